//! The traversal: seeds from the GC lists (and roots in full mode), then every referent,
//! validating each candidate pointer as an object before following it.

use super::gc_lists::{gc_heads, interpreters, list_objects};
use super::objects::View;
use super::referents::{full_extra_referents, gc_referents, interpreter_frame_referents};
use super::sizes::getsizeof;
use super::types::TypeTable;
use super::{Heap, HeapObject, Mode, WalkError};
use crate::interpreter::layout::{self as L, CurrentFrame};
use crate::interpreter::Interpreter;
use crate::memory::image::Image;

/// A set of addresses (open addressing, linear probing; 0 is never an object address).
struct AddressSet {
    slots: Vec<u64>,
    len: usize,
}

impl AddressSet {
    fn with_capacity(n: usize) -> AddressSet {
        AddressSet {
            slots: vec![0; (n * 2).next_power_of_two().max(1024)],
            len: 0,
        }
    }

    #[inline]
    fn hash(addr: u64, mask: usize) -> usize {
        ((addr >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) as usize & mask
    }

    /// Insert; true if it was not there.
    #[inline]
    fn insert(&mut self, addr: u64) -> bool {
        if self.len * 2 >= self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::hash(addr, mask);
        loop {
            let s = self.slots[i];
            if s == addr {
                return false;
            }
            if s == 0 {
                self.slots[i] = addr;
                self.len += 1;
                return true;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        self.len = 0;
        for a in old.into_iter().filter(|&a| a != 0) {
            self.insert(a);
        }
    }
}

/// Is the reference count plausible for a live object? (Rejects stale pointers to freed
/// memory, whose first word is then a free-list pointer.)
#[inline]
fn plausible_refcount(refcnt: u64) -> bool {
    (1..1 << 40).contains(&refcnt)
}

/// Walk the heap of `interp` in `image`.
pub fn walk(image: &Image, interp: &Interpreter, mode: Mode) -> Result<Heap, WalkError> {
    let str_type = interp.static_type("PyUnicode_Type").unwrap_or(0);
    let view = View {
        image,
        layout: &interp.layout,
        str_type,
    };
    let mut types = TypeTable::new(interp);
    let interps = interpreters(&view, interp.runtime)?;

    let mut seeds = Vec::new();
    let mut roots = Vec::new();
    for &i in &interps {
        let heads = gc_heads(&view, i)?;
        for head in heads.generations {
            list_objects(&view, head, &mut seeds)?;
        }
        if mode == Mode::Full {
            list_objects(&view, heads.permanent, &mut seeds)?;
            interpreter_roots(&view, interp, i, &mut roots);
        }
    }
    types.learn_subtype_traverse(&view, seeds.iter().copied());

    let mut visited = AddressSet::with_capacity(seeds.len() * 4);
    let mut stack: Vec<u64> = Vec::with_capacity(seeds.len());
    for &s in seeds.iter().rev() {
        if visited.insert(s) {
            stack.push(s);
        }
    }
    let mut candidates = roots;
    let type_type = types.type_type();
    let mut objects = Vec::with_capacity(seeds.len() * 3);
    loop {
        // Validate pending candidates, then take the next object.
        for &r in &candidates {
            if r != 0 && r.is_multiple_of(8) && visited.insert(r) && is_object(&view, &mut types, r)
            {
                stack.push(r);
            }
        }
        candidates.clear();
        let Some(obj) = stack.pop() else { break };
        let Some(type_id) = types.resolve(&view, view.ob_type(obj)) else {
            continue;
        };
        let ty = types.get(type_id);
        let (size, size_exact) = getsizeof(&view, obj, ty, type_type);
        objects.push(HeapObject {
            address: obj,
            type_id,
            size,
            size_exact,
        });
        let is_gc = ty.has_gc()
            && (!ty.has_is_gc || view.word(obj + L::TP_FLAGS) & L::TPFLAGS_HEAPTYPE != 0);
        if is_gc {
            gc_referents(&view, obj, ty, &mut candidates);
        }
        if mode == Mode::Full {
            full_extra_referents(&view, obj, ty, &mut candidates);
        }
    }
    Ok(Heap {
        objects,
        types: types.into_infos(),
        interpreters: interps.len(),
    })
}

fn is_object(view: &View, types: &mut TypeTable, addr: u64) -> bool {
    view.image.contains(addr, 16)
        && plausible_refcount(view.word(addr))
        && types.resolve(view, view.ob_type(addr)).is_some()
}

/// Full mode: what an interpreter holds outside the GC lists — its module table, sys and
/// builtins dicts, interned strings, and every live frame of its threads.
fn interpreter_roots(view: &View, interp: &Interpreter, state: u64, out: &mut Vec<u64>) {
    let rt = &view.layout.runtime;
    out.push(view.word(state + rt.interp_modules));
    out.push(view.word(state + rt.interp_sysdict));
    out.push(view.word(state + rt.interp_builtins));
    match (rt.interp_interned, interp.interned_static) {
        (Some(off), _) => out.push(view.word(state + off)),
        (None, Some(var)) => out.push(view.word(var)),
        (None, None) => {}
    }
    let f = &view.layout.iframe;
    let mut tstate = view.word(state + rt.interp_threads_head);
    let mut threads = 0;
    while tstate != 0 && threads < 4096 {
        let mut frame = match rt.current_frame {
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
        };
        let mut depth = 0;
        while frame != 0 && depth < 100_000 && view.image.contains(frame, 80) {
            if f.owner_cstack != Some(view.u8_at(frame + f.owner)) {
                interpreter_frame_referents(view, frame, out);
                out.push(view.word(frame + f.globals));
                out.push(view.word(frame + f.builtins));
            }
            frame = view.word(frame + f.previous);
            depth += 1;
        }
        tstate = view.word(tstate + rt.tstate_next);
        threads += 1;
    }
}
