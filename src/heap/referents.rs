//! Per-type referents: what `gc.get_referents(o)` returns (the type's `tp_traverse`), emulated
//! from the memory image, plus the extra edges of `--mode full`.
//!
//! Every pointer pushed here is a candidate: the walker validates it as an object before
//! following it, so handlers may push NULLs and stale words.

use super::objects::{View, DICT_KEYS_GENERAL};
use super::types::{Kind, TypeInfo};
use crate::interpreter::layout::{self as L, ManagedDict};

/// `FRAME_OWNED_BY_FRAME_OBJECT`: the interpreter frame lives inside a frame object.
const FRAME_OWNED_BY_FRAME_OBJECT: u8 = 2;
/// `FRAME_CLEARED`: a generator's frame holds nothing any more.
const FRAME_CLEARED: i8 = 4;
/// Items per deque block.
const DEQUE_BLOCKLEN: u64 = 64;

/// Push the referents of `obj` (of type `ty`) that `tp_traverse` visits.
pub fn gc_referents(view: &View, obj: u64, ty: &TypeInfo, out: &mut Vec<u64>) {
    if let Some(inst) = &ty.instance {
        for &off in &inst.slots {
            out.push(view.word(obj + off));
        }
        if let Some(off) = inst.dict_offset {
            if let Some(at) = dict_pointer(view, obj, ty, off) {
                out.push(view.word(at));
            }
        }
        if inst.visits_type {
            out.push(ty.address);
        }
    } else if ty.is_heap() {
        // C types created from a spec are heap types; their traverse visits `Py_TYPE(self)`
        // (required since 3.9).
        out.push(ty.address);
    }
    if ty.flags & L::TPFLAGS_MANAGED_DICT != 0 {
        // Python classes and C types alike (e.g. 3.12's typing.TypeVar) visit their managed
        // dict or values.
        managed_dict_referents(view, obj, ty, out);
    }
    kind_referents(view, obj, ty, out);
    for at in (ty.scan_from..ty.scan_to).step_by(8) {
        out.push(view.word(obj + at));
    }
    if ty.scan_items {
        let n = view.ob_size(obj).clamp(0, 1 << 20) as u64;
        push_array(view, obj + ty.basicsize, n, out);
    }
}

/// Where the `__dict__` pointer of an instance is (`_PyObject_DictPointer`).
fn dict_pointer(view: &View, obj: u64, ty: &TypeInfo, off: i64) -> Option<u64> {
    if off > 0 {
        return Some(obj + off as u64);
    }
    // Negative: counted from the end of a variable-size object.
    let n = view.ob_size(obj).unsigned_abs();
    let size = (ty.basicsize + n * ty.itemsize + 7) & !7;
    Some((obj + size).wrapping_add(off as u64))
}

fn managed_dict_referents(view: &View, obj: u64, ty: &TypeInfo, out: &mut Vec<u64>) {
    let shared_entries = || {
        view.dict_keys(ty.cached_keys)
            .map(|k| k.nentries.max(0) as u64)
            .unwrap_or(0)
    };
    match view.layout.managed_dict {
        ManagedDict::ValuesAndDict => {
            let values = view.word(obj.wrapping_sub(32));
            if values != 0 {
                push_array(view, values, shared_entries(), out);
            }
            out.push(view.word(obj.wrapping_sub(24)));
        }
        ManagedDict::Tagged => {
            let word = view.word(obj.wrapping_sub(24));
            if word & 1 != 0 {
                // Stored as `values - 1`, so the tag bit is set.
                push_array(view, word + 1, shared_entries(), out);
            } else {
                out.push(word);
            }
        }
        ManagedDict::InlineValues => {
            if ty.flags & L::TPFLAGS_INLINE_VALUES != 0 {
                let values = obj + ty.basicsize;
                if view.u8_at(values + 3) != 0 {
                    let capacity = view.u8_at(values) as u64;
                    push_array(view, values + 8, capacity, out);
                    return;
                }
            }
            out.push(view.word(obj.wrapping_sub(24)));
        }
    }
}

fn push_array(view: &View, at: u64, n: u64, out: &mut Vec<u64>) {
    let n = n.min(1 << 28);
    if let Some(bytes) = view.image.slice(at, 8 * n as usize) {
        out.extend(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap())),
        );
    }
}

fn kind_referents(view: &View, obj: u64, ty: &TypeInfo, out: &mut Vec<u64>) {
    let lay = view.layout;
    match ty.kind {
        Kind::Atomic | Kind::Code => {}
        Kind::Tuple => {
            let n = (view.ob_size(obj).max(0) as u64).max(ty.struct_fields);
            push_array(view, obj + lay.tuple_items, n, out);
        }
        Kind::List => {
            let n = view.ob_size(obj).max(0) as u64;
            push_array(view, view.word(obj + L::LIST_ITEMS), n, out);
        }
        Kind::Dict => dict_referents(view, obj, out),
        Kind::OrderedDict => {
            dict_referents(view, obj, out);
            // od_inst_dict, and the key of every node of the linked list (od_first, next).
            out.push(view.word(obj + 96));
            let mut node = view.word(obj + 48);
            let mut guard = 0u64;
            while node != 0 && guard < 1 << 28 {
                out.push(view.word(node));
                node = view.word(node + 16);
                guard += 1;
            }
        }
        Kind::Set => {
            let mask = view.word(obj + L::SET_MASK);
            let table = view.word(obj + L::SET_TABLE);
            if mask < 1 << 32 {
                if let Some(bytes) = view.image.slice(table, 16 * (mask as usize + 1)) {
                    for e in bytes.chunks_exact(16) {
                        let key = u64::from_le_bytes(e[..8].try_into().unwrap());
                        let hash = i64::from_le_bytes(e[8..].try_into().unwrap());
                        // Deleted entries hold the dummy key with hash -1 (no real hash is -1).
                        if key != 0 && hash != -1 {
                            out.push(key);
                        }
                    }
                }
            }
        }
        Kind::Type => {
            // type_traverse visits only for heap types (static types are not GC objects).
            if view.word(obj + L::TP_FLAGS) & L::TPFLAGS_HEAPTYPE != 0 {
                for off in [L::TP_DICT, 352, L::TP_MRO, L::TP_BASES, L::TP_BASE] {
                    out.push(view.word(obj + off));
                }
                out.push(view.word(obj + lay.heap_type.ht_module));
            }
        }
        Kind::Module => {
            out.push(view.word(obj + L::MODULE_DICT));
            let def = view.word(obj + L::MODULE_DEF);
            let state = view.word(obj + L::MODULE_STATE);
            if def != 0 && state != 0 && view.word(def + L::MODULEDEF_TRAVERSE) != 0 {
                // m_traverse visits the objects the module keeps in its state.
                let size = view.i64_at(def + L::MODULEDEF_SIZE);
                if size > 0 {
                    push_array(view, state, (size as u64).min(1 << 16) / 8, out);
                }
            }
        }
        Kind::Function => {
            for &off in lay.function_fields {
                out.push(view.word(obj + off));
            }
        }
        Kind::Cell => out.push(view.word(obj + L::CELL_REF)),
        Kind::Method => {
            out.push(view.word(obj + L::METHOD_FUNC));
            out.push(view.word(obj + L::METHOD_SELF));
        }
        Kind::CFunction => {
            out.push(view.word(obj + L::CFUNC_SELF));
            out.push(view.word(obj + L::CFUNC_MODULE));
            let ml = view.word(obj + L::CFUNC_ML);
            if ml != 0 && view.u32_at(ml + L::METHODDEF_FLAGS) & L::METH_METHOD != 0 {
                out.push(view.word(obj + L::CMETHOD_CLASS));
            }
        }
        Kind::WeakRef => out.push(view.word(obj + L::WEAKREF_CALLBACK)),
        Kind::Descriptor => out.push(view.word(obj + L::DESCR_TYPE)),
        Kind::Frame => {
            for &off in lay.frame.visited {
                out.push(view.word(obj + off));
            }
            let iframe = view.word(obj + lay.frame.f_frame);
            if iframe != 0 && view.u8_at(iframe + lay.iframe.owner) == FRAME_OWNED_BY_FRAME_OBJECT {
                interpreter_frame_referents(view, iframe, out);
            }
        }
        Kind::Generator | Kind::AsyncGenerator => {
            for &off in lay.gen.visited {
                out.push(view.word(obj + off));
            }
            if ty.kind == Kind::AsyncGenerator {
                out.push(view.word(obj + lay.gen.origin_or_finalizer));
            }
            if (view.u8_at(obj + lay.gen.frame_state) as i8) < FRAME_CLEARED {
                interpreter_frame_referents(view, obj + lay.gen.iframe, out);
            }
        }
        Kind::Deque => {
            // leftblock +24, leftindex +40; blocks are {leftlink, data[64], rightlink}.
            let len = view.ob_size(obj).max(0) as u64;
            let mut block = view.word(obj + 24);
            let mut index = view.word(obj + 40);
            let mut left = len;
            while left > 0 && block != 0 {
                let take = (DEQUE_BLOCKLEN - index.min(DEQUE_BLOCKLEN)).min(left);
                push_array(view, block + 8 + 8 * index, take, out);
                left -= take;
                index = 0;
                block = view.word(block + 8 + 8 * DEQUE_BLOCKLEN);
            }
        }
    }
}

/// `dict_traverse`: values only for str-keyed and split tables, keys and values otherwise.
fn dict_referents(view: &View, dict: u64, out: &mut Vec<u64>) {
    let Some(keys) = view.dict_keys(view.word(dict + L::DICT_KEYS)) else {
        return;
    };
    let values = view.word(dict + L::DICT_VALUES);
    let n = keys.nentries.max(0) as u64;
    if keys.kind == DICT_KEYS_GENERAL {
        let start = keys.entries_start();
        for i in 0..n {
            let e = start + 24 * i;
            if view.word(e + 16) != 0 {
                out.push(view.word(e + 8));
                out.push(view.word(e + 16));
            }
        }
    } else if values != 0 {
        let embedded = view.layout.dict_values == crate::interpreter::layout::DictValues::Prefixed
            && view.u8_at(values + 2) != 0;
        if !embedded {
            push_array(view, view.dict_values_array(values), n, out);
        }
    } else {
        let start = keys.entries_start();
        for i in 0..n {
            out.push(view.word(start + 16 * i + 8));
        }
    }
}

/// `_PyFrame_Traverse`: frame object, locals, function, code and the live local/stack slots.
pub fn interpreter_frame_referents(view: &View, frame: u64, out: &mut Vec<u64>) {
    let f = &view.layout.iframe;
    for off in [f.frame_obj, f.locals, f.func, f.code] {
        out.push(view.word(frame + off));
    }
    let n = view.u32_at(frame + f.stacktop) as i32;
    if n > 0 {
        push_array(view, frame + f.localsplus, n as u64, out);
    }
}

/// Edges that `--mode full` follows on top of `tp_traverse`: the type of every object, all
/// dict keys, code object contents, type and descriptor names, frame globals and builtins.
pub fn full_extra_referents(view: &View, obj: u64, ty: &TypeInfo, out: &mut Vec<u64>) {
    out.push(ty.address);
    let lay = view.layout;
    match ty.kind {
        Kind::Dict | Kind::OrderedDict => {
            let mut entries = Vec::new();
            view.dict_entries(obj, &mut entries);
            out.extend(entries.iter().map(|e| e.key));
        }
        Kind::Code => {
            for &off in lay.code.object_fields {
                out.push(view.word(obj + off));
            }
        }
        Kind::Type => {
            let ht = &lay.heap_type;
            if view.word(obj + L::TP_FLAGS) & L::TPFLAGS_HEAPTYPE != 0 {
                for off in [ht.ht_name, ht.ht_qualname, ht.ht_slots, L::TP_SUBCLASSES] {
                    out.push(view.word(obj + off));
                }
            } else {
                for off in [L::TP_DICT, L::TP_MRO, L::TP_BASES, L::TP_BASE] {
                    out.push(view.word(obj + off));
                }
            }
        }
        Kind::Descriptor => {
            out.push(view.word(obj + L::DESCR_NAME));
            out.push(view.word(obj + L::DESCR_QUALNAME));
        }
        Kind::Frame | Kind::Generator | Kind::AsyncGenerator => {
            let iframe = if ty.kind == Kind::Frame {
                view.word(obj + lay.frame.f_frame)
            } else {
                obj + lay.gen.iframe
            };
            if iframe != 0 {
                out.push(view.word(iframe + lay.iframe.globals));
                out.push(view.word(iframe + lay.iframe.builtins));
            }
        }
        _ => {}
    }
}
