//! Per-type referents: what `gc.get_referents(o)` returns (the type's `tp_traverse`), emulated
//! from the memory image, plus the extra edges of `--mode full`.
//!
//! Every pointer pushed here is a candidate: the walker validates it as an object before
//! following it, so handlers may push NULLs and stale words. Each comes with the [`Edge`] that
//! says how the parent holds it, for retainer chains.

use super::edges::Edge;
use super::objects::{DictKeys, View};
use super::types::{Kind, TypeInfo};
use crate::interpreter::layout::{
    self as L, DictValues, FrameObjectLayout, Frames, ManagedDict, ModuleLayout, StackDepth,
    ValueStack,
};

/// `FRAME_OWNED_BY_FRAME_OBJECT`: the interpreter frame lives inside a frame object.
const FRAME_OWNED_BY_FRAME_OBJECT: u8 = 2;

/// Push the referents of `obj` (of type `ty`) that `tp_traverse` visits. With `all_dict_keys`
/// (`--mode full`), a dict's `str` keys too, which `dict_traverse` skips: its table is then
/// decoded once for both.
pub fn gc_referents(
    view: &View,
    obj: u64,
    ty: &TypeInfo,
    all_dict_keys: bool,
    out: &mut impl FnMut(u64, Edge),
) {
    if let Some(inst) = &ty.instance {
        for (k, &(off, _)) in inst.slots.iter().enumerate() {
            out(view.word(obj + off), Edge::Slot(k as u32));
        }
        if let Some(off) = inst.dict_offset {
            let at = dict_pointer(view, obj, ty, off);
            out(view.word(at), Edge::Field("__dict__"));
        }
        if inst.visits_type {
            out(ty.address, Edge::Field("__class__"));
        }
    } else if ty.is_heap() {
        // C types created from a spec are heap types; their traverse visits `Py_TYPE(self)`
        // (required since 3.9).
        out(ty.address, Edge::Field("__class__"));
    }
    if view.layout.has_managed_dict(ty.flags) {
        // Python classes and C types alike (e.g. 3.12's typing.TypeVar) visit their managed
        // dict or values.
        managed_dict_referents(view, obj, ty, out);
    }
    kind_referents(view, obj, ty, all_dict_keys, out);
    for at in (ty.scan_from..ty.scan_to).step_by(8) {
        out(view.word(obj + at), Edge::Scanned(at as u32));
    }
    if ty.scan_items {
        let n = view.ob_size(obj).clamp(0, 1 << 20) as u64;
        push_array(view, obj + ty.basicsize, n, Edge::Index, out);
    }
}

/// Where the `__dict__` pointer of an instance is (`_PyObject_DictPointer`).
fn dict_pointer(view: &View, obj: u64, ty: &TypeInfo, off: i64) -> u64 {
    if off > 0 {
        return obj + off as u64;
    }
    // Negative: counted from the end of a variable-size object.
    let n = view.ob_size(obj).unsigned_abs();
    let size = ty
        .basicsize
        .saturating_add(n.saturating_mul(ty.itemsize))
        .saturating_add(7)
        & !7;
    obj.wrapping_add(size).wrapping_add(off as u64)
}

fn managed_dict_referents(view: &View, obj: u64, ty: &TypeInfo, out: &mut impl FnMut(u64, Edge)) {
    match view.layout.managed_dict {
        ManagedDict::None => {}
        ManagedDict::ValuesAndDict { values, dict } => {
            let values = view.word(obj.wrapping_sub(values));
            if values != 0 {
                push_array(view, values, ty.cached_keys_entries, Edge::Attribute, out);
            }
            out(view.word(obj.wrapping_sub(dict)), Edge::Field("__dict__"));
        }
        ManagedDict::Tagged { word } => {
            let word = view.word(obj.wrapping_sub(word));
            if word & 1 != 0 {
                // Stored as `values - 1`, so the tag bit is set.
                push_array(view, word + 1, ty.cached_keys_entries, Edge::Attribute, out);
            } else {
                out(word, Edge::Field("__dict__"));
            }
        }
        ManagedDict::InlineValues { dict } => {
            let dict = view.word(obj.wrapping_sub(dict));
            if view.layout.dict_first && dict != 0 {
                // gh-130327: a materialised dict is visited (and visits the values).
                out(dict, Edge::Field("__dict__"));
                return;
            }
            if let DictValues::Prefixed(prefix) = view.layout.dict_values {
                if ty.flags & L::TPFLAGS_INLINE_VALUES != 0 {
                    let values = obj + ty.basicsize;
                    if view.u8_at(values + prefix.valid) != 0 {
                        let capacity = view.u8_at(values + prefix.capacity) as u64;
                        push_array(view, values + prefix.array, capacity, Edge::Attribute, out);
                        return;
                    }
                }
            }
            out(dict, Edge::Field("__dict__"));
        }
    }
}

/// Push `n` pointers stored from `at`, the i-th with edge `edge(i)`.
fn push_array(
    view: &View,
    at: u64,
    n: u64,
    edge: impl Fn(u32) -> Edge,
    out: &mut impl FnMut(u64, Edge),
) {
    let n = n.min(1 << 28);
    // All or nothing; in pieces when long: read from a live process, a list of a million items
    // is not 8 MB at once.
    if n > ARRAY_PIECE as u64 && !view.image.contains(at, 8 * n as usize) {
        return;
    }
    for first in (0..n).step_by(ARRAY_PIECE) {
        let count = (n - first).min(ARRAY_PIECE as u64);
        let Some(bytes) = view.image.slice(at + 8 * first, 8 * count as usize) else {
            return;
        };
        for (i, c) in bytes.chunks_exact(8).enumerate() {
            out(
                u64::from_le_bytes(c.try_into().unwrap()),
                edge((first as usize + i) as u32),
            );
        }
    }
}

/// Pointers of an array read at a time (64 KiB).
const ARRAY_PIECE: usize = 8192;

/// Push one field.
fn field(view: &View, out: &mut impl FnMut(u64, Edge), obj: u64, off: u64, name: &'static str) {
    out(view.word(obj + off), Edge::Field(name));
}

/// The referents `tp_traverse` visits that depend on the object's kind: one function per kind.
fn kind_referents(
    view: &View,
    obj: u64,
    ty: &TypeInfo,
    all_dict_keys: bool,
    out: &mut impl FnMut(u64, Edge),
) {
    let lay = view.layout;
    match ty.kind {
        Kind::Atomic | Kind::Code => {}
        Kind::Tuple => {
            let n = (view.ob_size(obj).max(0) as u64).max(ty.struct_fields);
            push_array(view, obj + lay.tuple_items, n, Edge::Index, out);
        }
        Kind::List => {
            let n = view.ob_size(obj).max(0) as u64;
            push_array(view, view.word(obj + L::LIST_ITEMS), n, Edge::Index, out);
        }
        Kind::Dict => dict_referents(view, obj, all_dict_keys, out),
        Kind::OrderedDict => ordered_dict_referents(view, obj, all_dict_keys, out),
        Kind::Set => set_referents(view, obj, out),
        Kind::Type => type_referents(view, obj, out),
        Kind::Module => module_referents(view, obj, out),
        Kind::Function => fields(
            view,
            obj,
            lay.function_fields.iter().chain(lay.function_fields_added),
            out,
        ),
        Kind::Cell => field(view, out, obj, L::CELL_REF, "cell_contents"),
        Kind::OldClass => fields(view, obj, lay.old_class_fields, out),
        Kind::OldInstance => fields(view, obj, lay.old_instance_fields, out),
        Kind::Method => fields(view, obj, lay.method_fields, out),
        Kind::CFunction => cfunction_referents(view, obj, out),
        Kind::WeakRef => field(view, out, obj, L::WEAKREF_CALLBACK, "__callback__"),
        Kind::Descriptor => field(view, out, obj, L::DESCR_TYPE, "__objclass__"),
        Kind::Frame => frame_referents(view, obj, out),
        Kind::Generator | Kind::AsyncGenerator => generator_referents(view, obj, ty.kind, out),
        Kind::Deque => deque_referents(view, obj, out),
        Kind::LruCache => lru_cache_referents(view, obj, out),
        Kind::LruEntry => lru_entry_referents(view, obj, out),
    }
}

/// `lru_cache_tp_traverse`: the named fields, then every entry of the bounded cache's list (3.6:
/// the entries, and each one's key and result; 3.7+: the key and result), at most as many as
/// the `cache` dict holds.
fn lru_cache_referents(view: &View, obj: u64, out: &mut impl FnMut(u64, Edge)) {
    let Some(lru) = view.layout.lru_cache else {
        return;
    };
    fields(view, obj, lru.fields, out);
    let cache = lru
        .fields
        .iter()
        .find(|&&(_, name)| name == "cache")
        .map_or(0, |&(off, _)| view.word(obj + off));
    let used = if cache == 0 {
        0
    } else {
        view.word(cache + L::DICT_USED)
    };
    let mut entry = view.word(obj + lru.next);
    let mut left = used.min(1 << 32);
    while entry != obj && entry != 0 && left > 0 && view.image.contains(entry, 56) {
        if lru.visits_entries {
            out(entry, Edge::Field("cache[…].entry"));
        }
        // 3.6's entry type is never readied (no READY flag: not a type heapsnap trusts), so
        // what the entries hold is taken from here in every version.
        lru_entry_referents(view, entry, out);
        entry = view.word(entry + lru.next);
        left -= 1;
    }
}

/// An entry of a bounded lru_cache: its key and the cached result (labelled `.cache[…].key`
/// and `.cache[…]`: what the `cache` dict holds under that key).
fn lru_entry_referents(view: &View, entry: u64, out: &mut impl FnMut(u64, Edge)) {
    if let Some(lru) = view.layout.lru_cache {
        field(view, out, entry, lru.key, "cache[…].key");
        field(view, out, entry, lru.result, "cache[…]");
    }
}

/// Push the object fields at `(offset, name)`.
fn fields<'f>(
    view: &View,
    obj: u64,
    list: impl IntoIterator<Item = &'f (u64, &'static str)>,
    out: &mut impl FnMut(u64, Edge),
) {
    for &(off, name) in list {
        field(view, out, obj, off, name);
    }
}

/// `odict_traverse`: the dict, `od_inst_dict`, and the key of every node of the linked list.
fn ordered_dict_referents(
    view: &View,
    obj: u64,
    all_dict_keys: bool,
    out: &mut impl FnMut(u64, Edge),
) {
    dict_referents(view, obj, all_dict_keys, out);
    field(view, out, obj, L::ODICT_INST_DICT, "__dict__");
    // The node list has one node per item: stop after `ma_used` (a cycle in corrupt memory
    // must not loop).
    let mut node = view.word(obj + L::ODICT_FIRST);
    let mut guard = 0u64;
    let used = view.word(obj + L::DICT_USED);
    while node != 0 && guard <= used {
        out(view.word(node + L::ODICT_NODE_KEY), Edge::Element);
        node = view.word(node + L::ODICT_NODE_NEXT);
        guard += 1;
    }
}

/// `set_traverse`: every live key of the hash table.
fn set_referents(view: &View, obj: u64, out: &mut impl FnMut(u64, Edge)) {
    let mask = view.word(obj + L::SET_MASK);
    let table = view.word(obj + L::SET_TABLE);
    if mask >= 1 << 32 {
        return;
    }
    let Some(bytes) = view.image.slice(table, 16 * (mask as usize + 1)) else {
        return;
    };
    let set = &view.layout.set;
    let word =
        |e: &[u8], at: u64| u64::from_le_bytes(e[at as usize..at as usize + 8].try_into().unwrap());
    for e in bytes.chunks_exact(16) {
        let (key, hash) = (word(e, set.key), word(e, set.hash) as i64);
        // Deleted entries hold the dummy key: 3.x with hash -1 (no real hash is -1), 2.7
        // recognised by the dummy's text.
        let dummy = if set.dummy_hash {
            hash == -1
        } else {
            view.is_py2_str(key, b"<dummy key>")
        };
        if key != 0 && !dummy {
            out(key, Edge::Element);
        }
    }
}

/// `type_traverse`: only heap types are visited (static types are not GC objects).
fn type_referents(view: &View, obj: u64, out: &mut impl FnMut(u64, Edge)) {
    if view.word(obj + L::TP_FLAGS) & L::TPFLAGS_HEAPTYPE == 0 {
        return;
    }
    field(view, out, obj, L::TP_DICT, "__dict__");
    field(view, out, obj, L::TP_CACHE, "__cache__");
    field(view, out, obj, L::TP_MRO, "__mro__");
    field(view, out, obj, L::TP_BASES, "__bases__");
    field(view, out, obj, L::TP_BASE, "__base__");
    if let Some(off) = view.layout.heap_type.ht_module {
        field(view, out, obj, off, "__module_object__");
    }
}

/// `module_traverse`: the module dict, and what `m_traverse` / `md_state_traverse` visits in
/// the module's state.
fn module_referents(view: &View, obj: u64, out: &mut impl FnMut(u64, Edge)) {
    field(view, out, obj, L::MODULE_DICT, "__dict__");
    let (state, size, traverse) = match view.layout.module {
        ModuleLayout::DictOnly => (0, 0, 0),
        ModuleLayout::ViaDef { def, state } => {
            let def = view.word(obj + def);
            if def == 0 {
                (0, 0, 0)
            } else {
                (
                    view.word(obj + state),
                    view.i64_at(def + L::MODULEDEF_SIZE),
                    view.word(def + L::MODULEDEF_TRAVERSE),
                )
            }
        }
        ModuleLayout::Direct {
            state,
            size,
            traverse,
        } => (
            view.word(obj + state),
            view.i64_at(obj + size),
            view.word(obj + traverse),
        ),
    };
    if state != 0 && traverse != 0 && size > 0 {
        push_array(
            view,
            state,
            (size as u64).min(1 << 16) / 8,
            Edge::ModuleState,
            out,
        );
    }
}

/// `meth_traverse`: `m_self`, `m_module`, and the defining class of a `METH_METHOD` method.
fn cfunction_referents(view: &View, obj: u64, out: &mut impl FnMut(u64, Edge)) {
    field(view, out, obj, L::CFUNC_SELF, "__self__");
    field(view, out, obj, L::CFUNC_MODULE, "__module__");
    let ml = view.word(obj + L::CFUNC_ML);
    if ml != 0 && view.u32_at(ml + L::METHODDEF_FLAGS) & L::METH_METHOD != 0 {
        field(view, out, obj, L::CMETHOD_CLASS, "__objclass__");
    }
}

/// `frame_traverse`: 3.11+ a frame object's fields and, while it owns it, its interpreter
/// frame; before, the frame object itself.
fn frame_referents(view: &View, obj: u64, out: &mut impl FnMut(u64, Edge)) {
    match &view.layout.frames {
        Frames::Interpreter { frame, iframe, .. } => {
            fields(view, obj, frame.visited, out);
            let data = view.word(obj + frame.f_frame);
            if data != 0 && view.u8_at(data + iframe.owner) == FRAME_OWNED_BY_FRAME_OBJECT {
                interpreter_frame_referents(view, data, out);
            }
        }
        Frames::Objects { frame, .. } => frame_object_referents(view, obj, frame, out),
    }
}

/// `gen_traverse` (generators, coroutines, async generators): the fields, and the embedded
/// interpreter frame until it is cleared (3.11+).
fn generator_referents(view: &View, obj: u64, kind: Kind, out: &mut impl FnMut(u64, Edge)) {
    let is_async = kind == Kind::AsyncGenerator;
    match &view.layout.frames {
        Frames::Interpreter { gen, .. } => {
            fields(view, obj, gen.visited, out);
            if is_async {
                field(view, out, obj, gen.origin_or_finalizer, "ag_finalizer");
            }
            if (view.u8_at(obj + gen.frame_state) as i8) < gen.frame_cleared {
                interpreter_frame_referents(view, obj + gen.iframe, out);
            } else if gen.visits_code_when_cleared {
                out(view.frame_code(obj, kind), Edge::Field("gi_code"));
            }
        }
        Frames::Objects { gen, .. } => {
            fields(view, obj, gen.visited, out);
            if is_async {
                field(view, out, obj, gen.finalizer, "ag_finalizer");
            }
        }
    }
}

/// `deque_traverse`: the items, block by block.
fn deque_referents(view: &View, obj: u64, out: &mut impl FnMut(u64, Edge)) {
    let d = &view.layout.deque;
    let len = view.i64_at(obj + d.len).max(0) as u64;
    let mut block = view.word(obj + d.leftblock);
    let mut index = view.word(obj + d.leftindex);
    let mut left = len;
    // Each block holds up to `block_items`: bound the walk by the blocks `len` needs.
    let mut blocks = len / d.block_items + 2;
    while left > 0 && block != 0 && blocks > 0 && view.image.contains(block, 8) {
        blocks -= 1;
        let take = (d.block_items - index.min(d.block_items)).min(left);
        let done = (len - left) as u32;
        push_array(
            view,
            block + d.block_data + 8 * index,
            take,
            |i| Edge::Index(done + i),
            out,
        );
        left -= take;
        index = 0;
        block = view.word(block + d.block_next);
    }
}

/// `dict_traverse`: values only for str-keyed and split tables, keys and values otherwise;
/// then, with `all_str_keys`, the keys that it skipped.
fn dict_referents(view: &View, dict: u64, all_str_keys: bool, out: &mut impl FnMut(u64, Edge)) {
    let Some(keys) = view.dict_table(dict) else {
        return;
    };
    dict_traverse(view, dict, &keys, out);
    if all_str_keys && !keys.general {
        view.for_each_dict_entry(dict, &keys, |e| out(e.key, Edge::DictKey(e.key)));
    }
}

fn dict_traverse(view: &View, dict: u64, keys: &DictKeys, out: &mut impl FnMut(u64, Edge)) {
    let values = view.dict_split_values(dict);
    if keys.general || values == 0 {
        // Combined table: keys only when hashed (not all str), and the values.
        view.for_each_dict_entry(dict, keys, |e| {
            if keys.general {
                out(e.key, Edge::DictKey(e.key));
            }
            out(e.value, Edge::DictValue(e.key));
        });
        return;
    }
    // Before gh-130327, values embedded in an instance were visited by the instance only.
    let embedded = match view.layout.dict_values {
        DictValues::Prefixed(prefix) => {
            !view.layout.dict_first && view.u8_at(values + prefix.embedded) != 0
        }
        DictValues::Plain => false,
    };
    if !embedded {
        // Split table: the keys are the shared keys' entries, in the same order.
        let key = |i: u32| view.word(keys.key_address(u64::from(i)));
        push_array(
            view,
            view.dict_values_array(values),
            keys.nentries.max(0) as u64,
            |i| Edge::DictValue(key(i)),
            out,
        );
    }
}

/// `_PyFrame_Traverse`: frame object, locals, function, code and the live local/stack slots.
pub fn interpreter_frame_referents(view: &View, frame: u64, out: &mut impl FnMut(u64, Edge)) {
    let Some(f) = view.layout.iframe() else {
        return;
    };
    field(view, out, frame, f.frame_obj, "frame");
    field(view, out, frame, f.locals, "f_locals");
    out(
        view.stackref(view.word(frame + f.func)),
        Edge::Field("function"),
    );
    out(
        view.stackref(view.word(frame + f.code)),
        Edge::Field("f_code"),
    );
    let first = frame + f.localsplus;
    let n = match f.stack_depth {
        StackDepth::Count(off) => (view.u32_at(frame + off) as i32).max(0) as u64,
        StackDepth::Pointer(off) => view.word(frame + off).saturating_sub(first) / 8,
    };
    push_array(
        view,
        first,
        n.min(1 << 20),
        Edge::Local,
        &mut |slot, edge| out(view.stackref(slot), edge),
    );
}

/// `frame_traverse` up to 3.10: the frame's fields, its fast locals, cells and free variables,
/// and the live part of its value stack.
fn frame_object_referents(
    view: &View,
    obj: u64,
    f: &FrameObjectLayout,
    out: &mut impl FnMut(u64, Edge),
) {
    fields(view, obj, f.visited, out);
    let code = view.word(obj + f.code);
    let slots = frame_object_slots(view, code, f);
    push_array(
        view,
        obj + f.localsplus,
        slots.min(1 << 20),
        Edge::Local,
        out,
    );
    let stack = view.word(obj + f.valuestack);
    let depth = match f.stack {
        ValueStack::Top(off) => {
            let top = view.word(obj + off);
            if top == 0 {
                0
            } else {
                top.saturating_sub(stack) / 8
            }
        }
        ValueStack::Depth(off) => (view.u32_at(obj + off) as i32).max(0) as u64,
    };
    push_array(
        view,
        stack,
        depth.min(1 << 20),
        |_| Edge::Field("<value stack>"),
        out,
    );
}

/// Fast locals + cells + free variables of a ≤3.10 frame running `code`.
pub fn frame_object_slots(view: &View, code: u64, f: &FrameObjectLayout) -> u64 {
    let nlocals = view.u32_at(code + view.layout.code.nlocalsplus) as u64;
    let tuple_len = |off: u64| view.ob_size(view.word(code + off)).max(0) as u64;
    nlocals + tuple_len(f.code_cellvars) + tuple_len(f.code_freevars)
}

/// Edges that `--mode full` follows on top of `tp_traverse`: the type of every object, code
/// object contents, type and descriptor names, frame globals and builtins (and dicts' `str`
/// keys: [`gc_referents`] with `all_dict_keys`).
pub fn full_extra_referents(view: &View, obj: u64, ty: &TypeInfo, out: &mut impl FnMut(u64, Edge)) {
    out(ty.address, Edge::Field("__class__"));
    let lay = view.layout;
    match ty.kind {
        Kind::Code => fields(view, obj, lay.code.object_fields, out),
        Kind::Type => {
            let ht = &lay.heap_type;
            if view.word(obj + L::TP_FLAGS) & L::TPFLAGS_HEAPTYPE != 0 {
                field(view, out, obj, ht.ht_name, "__name__");
                if let Some(off) = ht.ht_qualname {
                    field(view, out, obj, off, "__qualname__");
                }
                field(view, out, obj, ht.ht_slots, "__slots__");
                field(view, out, obj, L::TP_SUBCLASSES, "__subclasses__");
            } else {
                field(view, out, obj, L::TP_DICT, "__dict__");
                field(view, out, obj, L::TP_MRO, "__mro__");
                field(view, out, obj, L::TP_BASES, "__bases__");
                field(view, out, obj, L::TP_BASE, "__base__");
            }
        }
        // 3.7+: entries are not GC objects (their referents are the wrapper's): followed here
        // when the walk reaches them through the `cache` dict.
        Kind::LruEntry => lru_entry_referents(view, obj, out),
        Kind::Descriptor => {
            field(view, out, obj, L::DESCR_NAME, "__name__");
            field(view, out, obj, L::DESCR_QUALNAME, "__qualname__");
        }
        Kind::Frame | Kind::Generator | Kind::AsyncGenerator => {
            if let Frames::Interpreter { iframe, .. } = &lay.frames {
                let data = view.interpreter_frame(obj, ty.kind);
                if data != 0 {
                    field(view, out, data, iframe.globals, "f_globals");
                    field(view, out, data, iframe.builtins, "f_builtins");
                }
            }
        }
        _ => {}
    }
}
