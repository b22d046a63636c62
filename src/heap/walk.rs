//! The traversal: breadth first from the interpreter's roots (so that the first parent of
//! every object lies on a shortest retainer path), then from every GC-list object no root
//! reached; each candidate pointer is validated as an object before it is followed.

use super::edges::{Edge, Labeler};
use super::gc_lists::{gc_heads, interpreters, list_objects};
use super::objects::View;
use super::referents::{full_extra_referents, gc_referents, Refs};
use super::sizes::getsizeof;
use super::types::TypeTable;
use super::{Heap, HeapObject, Mode, WalkError, NO_PARENT};
use crate::interpreter::layout::{
    self as L, CurrentFrame, DictKeysLayout, Frames, InterpFrameLayout, RefcountRule,
};
use crate::interpreter::Interpreter;
use crate::memory::image::Image;

/// The objects seen so far: one bit per 8-byte word of the memory image (objects are 8-byte
/// aligned and live in copied memory), so a lookup is a region lookup and a bit test — no
/// hashing, and 1/64 of the image in size.
struct VisitedSet<'a> {
    image: &'a Image,
    /// Index of each region's first word in `bits`.
    first_word: Vec<usize>,
    bits: Vec<u64>,
}

impl<'a> VisitedSet<'a> {
    fn new(image: &'a Image) -> VisitedSet<'a> {
        let mut first_word = Vec::with_capacity(image.region_count());
        let mut words = 0;
        for i in 0..image.region_count() {
            first_word.push(words);
            words += (image.region(i).1 as usize / 8).div_ceil(64);
        }
        VisitedSet {
            image,
            first_word,
            bits: vec![0; words],
        }
    }

    /// Mark `addr` (8-byte aligned); true if it was not marked. Addresses outside the image are
    /// never objects: they count as seen.
    #[inline]
    fn insert(&mut self, addr: u64) -> bool {
        let Some(region) = self.image.region_of(addr) else {
            return false;
        };
        let bit = ((addr - self.image.region(region).0) / 8) as usize;
        let word = &mut self.bits[self.first_word[region] + bit / 64];
        let mask = 1u64 << (bit % 64);
        let new = *word & mask == 0;
        *word |= mask;
        new
    }
}

/// Is the reference-count word plausible for a live object? (Rejects stale pointers to freed
/// memory, whose first word is then a free-list pointer.)
#[inline]
fn plausible_refcount(rule: RefcountRule, word: u64) -> bool {
    match rule {
        RefcountRule::Plain => (1..1 << 40).contains(&word),
        // u32 count, u16 overflow (unused by GIL builds), u16 flags: 1 immortal, 4 static.
        RefcountRule::SplitWithFlags => {
            word as u32 != 0
                && (word >> 32) & 0xffff == 0
                && matches!(word >> 48, 0 | 1 | 3 | 5 | 7)
        }
    }
}

/// The walk's state.
struct Walker<'a> {
    view: View<'a>,
    types: TypeTable,
    visited: VisitedSet<'a>,
    objects: Vec<HeapObject>,
    labels: Labeler<'a>,
}

impl Walker<'_> {
    /// Record `addr` as reached through `parent` with label `label`, if it is a new, valid
    /// object.
    fn discover(&mut self, addr: u64, parent: u32, label: impl FnOnce(&mut Self) -> u32) {
        if addr == 0 || !addr.is_multiple_of(8) || !self.visited.insert(addr) {
            return;
        }
        if !self.view.image.contains(addr, 16)
            || !plausible_refcount(self.view.layout.refcount, self.view.word(addr))
        {
            return;
        }
        let Some(type_id) = self.types.resolve(&self.view, self.view.ob_type(addr)) else {
            return;
        };
        let label = label(self);
        self.objects.push(HeapObject {
            address: addr,
            type_id,
            size: 0,
            size_exact: true,
            parent,
            label,
        });
    }

    /// Add a root: an object the interpreter holds directly, named for retainer chains.
    fn root(&mut self, addr: u64, name: &str) {
        self.discover(addr, NO_PARENT, |w| w.labels.root(name));
    }

    /// Process objects in discovery order (breadth first) until none is left.
    fn drain(&mut self, next: &mut usize, mode: Mode) {
        let type_type = self.types.type_type();
        let mut refs: Refs = Vec::new();
        while *next < self.objects.len() {
            let index = *next;
            *next += 1;
            let o = self.objects[index];
            let ty = self.types.get(o.type_id);
            let (size, exact) = getsizeof(&self.view, o.address, ty, type_type);
            self.objects[index].size = size;
            self.objects[index].size_exact = exact;
            let is_gc = ty.is_gc_object(&self.view, o.address);
            refs.clear();
            if is_gc {
                gc_referents(&self.view, o.address, ty, &mut refs);
            }
            if mode == Mode::Full {
                full_extra_referents(&self.view, o.address, ty, &mut refs);
            }
            for &(child, edge) in &refs {
                self.discover(child, index as u32, |w| {
                    let ty = w.types.get(o.type_id);
                    w.labels.label(o.address, ty, edge)
                });
            }
        }
    }
}

/// Walk the heap of `interp` in `image`. With `tolerant` (a copy taken without stopping the
/// target), a GC list torn by the running target is cut where it breaks and reported in
/// [`Heap::warnings`] instead of failing the walk.
pub fn walk(
    image: &Image,
    interp: &Interpreter,
    mode: Mode,
    tolerant: bool,
) -> Result<Heap, WalkError> {
    let mut warnings = Vec::new();
    let mut cut = |result: Result<(), WalkError>| match result {
        Err(WalkError::Corrupt(why)) if tolerant => {
            warnings.push(why);
            Ok(())
        }
        other => other,
    };
    let view = View {
        image,
        layout: &interp.layout,
        // 2.7 names are bytes `str` and small numbers `int`.
        str_type: interp
            .static_type("PyString_Type")
            .or(interp.static_type("PyUnicode_Type"))
            .unwrap_or(0),
        int_type: interp
            .static_type("PyInt_Type")
            .or(interp.static_type("PyLong_Type"))
            .unwrap_or(0),
        lookdict: interp.lookdict.unwrap_or(0),
    };
    let states = interpreters(&view, interp)?;
    let mut seeds = Vec::new();
    for &state in &states {
        let heads = gc_heads(&view, interp, state)?;
        for head in heads.generations {
            cut(list_objects(&view, head, &mut seeds))?;
        }
        if let (Mode::Full, Some(permanent)) = (mode, heads.permanent) {
            cut(list_objects(&view, permanent, &mut seeds))?;
        }
    }
    let mut view = view;
    if view.layout.dict_keys == DictKeysLayout::V36 && view.lookdict == 0 {
        view.lookdict = learn_lookdict(&view, interp.static_type("PyDict_Type"), &seeds);
    }
    let mut types = TypeTable::new(interp);
    types.learn_subtype_traverse(&view, seeds.iter().copied());
    let mut w = Walker {
        view,
        types,
        visited: VisitedSet::new(image),
        objects: Vec::with_capacity(seeds.len() * 3),
        labels: Labeler::new(view),
    };
    let mut next = 0;
    let prefix = |k: usize| {
        if states.len() > 1 {
            format!("<interpreter {k}> ")
        } else {
            String::new()
        }
    };
    // Modules first, so that what a module holds is named through `sys.modules[...]` even when
    // a running frame holds it too.
    for (k, &state) in states.iter().enumerate() {
        module_roots(&mut w, state, &prefix(k));
    }
    w.drain(&mut next, mode);
    if mode == Mode::Full {
        for (k, &state) in states.iter().enumerate() {
            runtime_roots(&mut w, interp, state, &prefix(k));
        }
        w.drain(&mut next, mode);
    }
    // What no root reaches: garbage cycles not yet collected, objects held only by C code.
    for s in seeds {
        w.discover(s, NO_PARENT, |_| 0);
    }
    w.drain(&mut next, mode);
    Ok(Heap {
        objects: w.objects,
        types: w.types.into_infos(),
        labels: w.labels.into_strings(),
        interpreters: states.len(),
        warnings,
    })
}

/// 3.6–3.10 without `.symtab`: the general dict lookup function is the `dk_lookup` of any dict
/// holding a key that is not a `str` (only `lookdict` handles those).
fn learn_lookdict(view: &View, dict_type: Option<u64>, seeds: &[u64]) -> u64 {
    let Some(dict_type) = dict_type else { return 0 };
    for &d in seeds.iter().filter(|&&d| view.ob_type(d) == dict_type) {
        let mut entries = Vec::new();
        view.dict_entries(d, &mut entries);
        if entries.iter().any(|e| view.ob_type(e.key) != view.str_type) {
            return view.word(view.word(d + L::DICT_KEYS) + 16);
        }
    }
    0
}

/// The roots every mode has: an interpreter's module table, sys and builtins dicts (GC objects).
fn module_roots(w: &mut Walker, state: u64, prefix: &str) {
    let view = w.view;
    let rt = &view.layout.runtime;
    w.root(
        view.word(state + rt.interp_modules),
        &format!("{prefix}sys.modules"),
    );
    w.root(
        view.word(state + rt.interp_sysdict),
        &format!("{prefix}sys.__dict__"),
    );
    w.root(
        view.word(state + rt.interp_builtins),
        &format!("{prefix}builtins.__dict__"),
    );
}

/// Full mode: what the runtime holds outside any object (and so outside gc.get_objects()):
/// interned strings, and every live frame of every thread.
fn runtime_roots(w: &mut Walker, interp: &Interpreter, state: u64, prefix: &str) {
    let view = w.view;
    let rt = &view.layout.runtime;
    let interned = match (rt.interp_interned, interp.interned_static) {
        (Some(off), _) => view.word(state + off),
        (None, Some(var)) => view.word(var),
        (None, None) => 0,
    };
    w.root(interned, &format!("{prefix}<interned strings>"));
    let mut tstate = view.word(state + rt.interp_threads_head);
    let mut threads = 0;
    while tstate != 0 && threads < 4096 {
        let thread = match rt.tstate_native_thread_id {
            Some(off) => view.word(tstate + off).to_string(),
            None => format!("#{threads}"),
        };
        let at = format!("{prefix}<thread {thread}>");
        match &view.layout.frames {
            Frames::Interpreter { iframe, .. } => live_frame_roots(w, tstate, iframe, &at),
            Frames::Objects { frame, .. } => {
                // Frames are objects: each running one is a root; its locals follow from it.
                let mut f = current_frame(&view, tstate);
                let mut depth = 0;
                while f != 0 && depth < 100_000 {
                    let code = view.word(f + frame.code);
                    let name = view.str_value(view.word(code + view.layout.code.qualname));
                    w.root(
                        f,
                        &format!("{at} frame {}()", name.as_deref().unwrap_or("?")),
                    );
                    f = view.word(f + frame.back);
                    depth += 1;
                }
            }
        }
        tstate = view.word(tstate + rt.tstate_next);
        threads += 1;
    }
}

/// 3.11+: the interpreter frames of one thread, each local a root named after its frame.
fn live_frame_roots(w: &mut Walker, tstate: u64, f: &InterpFrameLayout, at: &str) {
    let view = w.view;
    let mut frame = current_frame(&view, tstate);
    let mut depth = 0;
    while frame != 0 && depth < 100_000 && view.image.contains(frame, 88) {
        if f.owner_shim_min
            .is_none_or(|min| view.u8_at(frame + f.owner) < min)
        {
            let code = view.stackref(view.word(frame + f.code));
            let name = view.str_value(view.word(code + view.layout.code.qualname));
            let at = format!("{at} frame {}()", name.as_deref().unwrap_or("?"));
            // An executing frame's stack depth is not maintained: take its named locals.
            let nlocals = view.u32_at(code + view.layout.code.nlocalsplus) as u64;
            let mut refs: Refs = (0..nlocals.min(1 << 16))
                .map(|i| {
                    let slot = view.stackref(view.word(frame + f.localsplus + 8 * i));
                    (slot, Edge::Local(i as u32))
                })
                .collect();
            refs.push((
                view.stackref(view.word(frame + f.func)),
                Edge::Field("function"),
            ));
            refs.push((code, Edge::Field("f_code")));
            for (off, name) in [
                (f.locals, "f_locals"),
                (f.globals, "f_globals"),
                (f.builtins, "f_builtins"),
            ] {
                refs.push((view.word(frame + off), Edge::Field(name)));
            }
            for (child, edge) in refs {
                let label = match edge {
                    Edge::Local(i) => local_name(&view, code, i)
                        .map(|n| format!("{at} local '{n}'"))
                        .unwrap_or_else(|| format!("{at} stack[{i}]")),
                    Edge::Field(name) => format!("{at} {name}"),
                    _ => at.clone(),
                };
                w.root(child, &label);
            }
        }
        frame = view.word(frame + f.previous);
        depth += 1;
    }
}

fn current_frame(view: &View, tstate: u64) -> u64 {
    match view.layout.runtime.current_frame {
        CurrentFrame::FrameObject(off) => view.word(tstate + off),
        CurrentFrame::ViaCFrame {
            cframe,
            current_frame,
        } => {
            let cf = view.word(tstate + cframe);
            if cf == 0 {
                0
            } else {
                view.word(cf + current_frame)
            }
        }
        CurrentFrame::Direct(off) => view.word(tstate + off),
    }
}

/// Name of local slot `i` of `code`, if it is a named local (not a value-stack slot).
fn local_name(view: &View, code: u64, i: u32) -> Option<String> {
    let names = view.word(code + view.layout.code.localsplusnames);
    let name = view.tuple_items(names).nth(i as usize)?;
    view.str_value(name)
}
