//! `sys.getsizeof`, reproduced from memory: the type's `__sizeof__` plus the GC header and
//! pre-header that `sys.getsizeof` adds, with the rules of each version.

use super::objects::View;
use super::referents::frame_object_slots;
use super::types::{Kind, SizeRule, TypeInfo};
use crate::interpreter::layout::{
    self as L, ByteArrayRule, CodeSize, DictKeysLayout, Frames, HeaderRule, LongLayout, Strings,
};

/// The size of `obj` and whether it is exact (false for `__sizeof__` we cannot reproduce).
pub fn getsizeof(view: &View, obj: u64, ty: &TypeInfo) -> (u64, bool) {
    let (body, exact) = sizeof(view, obj, ty);
    (body + header(view, obj, ty), exact)
}

/// The part `sys.getsizeof` adds to `__sizeof__`.
fn header(view: &View, obj: u64, ty: &TypeInfo) -> u64 {
    let gc = if ty.has_gc() { 16 } else { 0 };
    match view.layout.header {
        HeaderRule::GcObject => {
            if ty.is_gc_object(view, obj) {
                view.layout.gc.head_size
            } else {
                0
            }
        }
        HeaderRule::V311 => {
            gc + if ty.flags & L::TPFLAGS_MANAGED_DICT != 0 {
                16
            } else {
                0
            }
        }
        HeaderRule::V312 | HeaderRule::V313 => {
            if view.layout.header == HeaderRule::V313
                && ty.address == view.type_type
                && view.word(obj + L::TP_FLAGS) & L::TPFLAGS_HEAPTYPE == 0
            {
                return 0;
            }
            let pre = L::TPFLAGS_MANAGED_DICT | L::TPFLAGS_MANAGED_WEAKREF;
            gc + if ty.flags & pre != 0 { 16 } else { 0 }
        }
    }
}

fn default_size(view: &View, obj: u64, ty: &TypeInfo) -> u64 {
    let mut size = ty.basicsize as i64;
    if ty.itemsize > 0 {
        size = size.saturating_add(view.ob_size(obj).saturating_mul(ty.itemsize as i64));
    }
    size.max(0) as u64
}

/// `type(obj).__sizeof__(obj)`.
fn sizeof(view: &View, obj: u64, ty: &TypeInfo) -> (u64, bool) {
    let lay = view.layout;
    let size = match ty.size_rule {
        SizeRule::Default => default_size(view, obj, ty),
        SizeRule::Custom => return (default_size(view, obj, ty), false),
        SizeRule::List => ty
            .basicsize
            .saturating_add(view.word(obj + L::LIST_ALLOCATED).saturating_mul(8)),
        SizeRule::Dict => dict_size(view, obj, ty),
        SizeRule::Set => {
            let table = view.word(obj + L::SET_TABLE);
            let extra = if table != obj + lay.set.smalltable {
                16 * (view.word(obj + L::SET_MASK) + 1)
            } else {
                0
            };
            ty.basicsize + extra
        }
        SizeRule::Str => str_size(view, obj),
        SizeRule::Long => match lay.long {
            // 2.7 `long` (itemsize 4; `ob_size` is negative for negative numbers), `int`/`bool`.
            LongLayout::Py2 => ty.basicsize + view.ob_size(obj).unsigned_abs() * ty.itemsize,
            LongLayout::ObSize { min_one_digit } => {
                let digits = view.ob_size(obj).unsigned_abs();
                24 + 4 * if min_one_digit { digits.max(1) } else { digits }
            }
            LongLayout::LvTag => 24 + 4 * (view.word(obj + 16) >> 3).max(1),
        },
        SizeRule::ByteArray => {
            match lay.bytearray {
                ByteArrayRule::Inline { alloc } => ty.basicsize + view.word(obj + alloc),
                // 3.15: the buffer is a bytes object (header 33 bytes) unless empty.
                ByteArrayRule::BytesObject => {
                    let alloc = view.word(obj + 24);
                    ty.basicsize + if alloc > 0 { 33 + alloc } else { 0 }
                }
            }
        }
        SizeRule::Type => {
            let ht = &lay.heap_type;
            match ht.ht_cached_keys {
                // 2.7: `object.__sizeof__` (basic size + one member per slot).
                None => default_size(view, obj, ty),
                Some(_) if view.word(obj + L::TP_FLAGS) & L::TPFLAGS_HEAPTYPE == 0 => {
                    ht.sizeof_type
                }
                Some(cached) => {
                    let keys = view.word(obj + cached);
                    let keys_size = if keys != 0 {
                        view.dict_keys(keys)
                            .map(|k| k.allocated_size())
                            .unwrap_or(0)
                    } else {
                        0
                    };
                    ht.sizeof_heap_type + keys_size
                }
            }
        }
        SizeRule::Code => code_size(view, obj, ty),
        SizeRule::Frame => match &lay.frames {
            Frames::Interpreter { frame, iframe, .. } => {
                let code = view.frame_code(obj, Kind::Frame);
                frame.frame_data + iframe.localsplus + frame_slots(view, code) * 8
            }
            Frames::Objects { frame, .. } => {
                let code = view.word(obj + frame.code);
                let stack = view.u32_at(code + lay.code.stacksize) as u64;
                let extras = stack + frame_object_slots(view, code, frame);
                frame.sizeof + 8 * extras.saturating_sub(1)
            }
        },
        SizeRule::Generator => match &lay.frames {
            Frames::Interpreter { iframe, gen, .. } => {
                let code = match gen.code {
                    Some(off) => view.word(obj + off),
                    None => view.frame_code(obj, ty.kind),
                };
                gen.iframe + iframe.localsplus + frame_slots(view, code) * 8
            }
            Frames::Objects { .. } => default_size(view, obj, ty),
        },
        SizeRule::OrderedDict => {
            // The dict, the fast-node index and one 32-byte node per item while the node list
            // is not empty.
            let nodes = if view.word(obj + L::ODICT_FIRST) != 0 {
                32 * view.word(obj + L::DICT_USED)
            } else {
                0
            };
            dict_size(view, obj, ty) + 8 * view.word(obj + L::ODICT_FAST_NODES_SIZE) + nodes
        }
        SizeRule::Deque => {
            let d = &lay.deque;
            let len = view.i64_at(obj + d.len).max(0) as u64;
            let left = view.word(obj + d.leftindex);
            let blocks = if d.sizeof_spare_block {
                (left + len + d.block_items) / d.block_items
            } else {
                (left + len).div_ceil(d.block_items)
            };
            ty.basicsize + d.block_size * blocks
        }
        SizeRule::Py2Str => L::PY2_STR_DATA + 1 + view.ob_size(obj).max(0) as u64,
    };
    (size, true)
}

/// `code.__sizeof__`.
fn code_size(view: &View, obj: u64, ty: &TypeInfo) -> u64 {
    let c = &view.layout.code;
    let extra = c.co_extra.map(|off| view.word(obj + off)).unwrap_or(0);
    let extra_size = if extra != 0 {
        // `_PyCodeObjectExtra`: ce_size, then that many pointers (one counted in the header).
        let n = view.i64_at(extra).clamp(1, 1 << 16) as u64;
        16 + 8 * (n - 1)
    } else {
        0
    };
    let body = match c.size {
        CodeSize::Basic => ty.basicsize,
        CodeSize::Inline => (ty.basicsize + 2 * view.ob_size(obj).max(0) as u64 + 7) & !7,
        CodeSize::Separate {
            cell2arg,
            cellvars,
            code,
            opcache,
        } => {
            let cells = view.word(obj + cellvars);
            let mut size = ty.basicsize;
            if view.word(obj + cell2arg) != 0 && cells != 0 {
                size += 8 * view.ob_size(cells).max(0) as u64;
            }
            if let Some((cache, cache_size)) = opcache {
                if view.word(obj + cache) != 0 {
                    let bytecode = view.ob_size(view.word(obj + code)).max(0) as u64;
                    size += bytecode / 2 + 32 * view.u8_at(obj + cache_size) as u64;
                }
            }
            size
        }
    };
    body + extra_size
}

/// Slots a 3.11+ frame of `code` holds after its fixed part: locals + cells + stack.
fn frame_slots(view: &View, code: u64) -> u64 {
    let c = &view.layout.code;
    let specials = view.layout.iframe().map(|f| f.specials_words).unwrap_or(0);
    match c.framesize {
        Some(off) => (view.u32_at(code + off) as u64).saturating_sub(specials),
        None => view.u32_at(code + c.nlocalsplus) as u64 + view.u32_at(code + c.stacksize) as u64,
    }
}

fn dict_size(view: &View, obj: u64, ty: &TypeInfo) -> u64 {
    let mut size = ty.basicsize;
    if view.layout.dict_keys == DictKeysLayout::V27 {
        // 2.7: the table is counted unless it is the dict's own small table (+56).
        let table = view.word(obj + L::DICT27_TABLE);
        let slots = view.word(obj + L::DICT27_MASK) + 1;
        return size
            + if table != obj + L::DICT27_SMALLTABLE {
                24 * slots
            } else {
                0
            };
    }
    let Some(keys) = view.dict_table(obj) else {
        return size;
    };
    // Split tables count their values array, also when it is embedded in the instance
    // (measured on 3.13.0, contrary to the shared reference's note).
    if view.dict_split_values(obj) != 0 {
        size += keys.split_values_size();
    }
    if keys.refcnt == 1 {
        size += keys.allocated_size();
    }
    size
}

fn str_size(view: &View, s: u64) -> u64 {
    let sl = match &view.layout.strings {
        Strings::Pep393(sl) => sl,
        // 2.7 `unicode`: the object, then `length + 1` code units.
        Strings::Py2 { unicode_unit } => {
            let len = view.i64_at(s + L::STR_LENGTH).max(0) as u64;
            return 48 + unicode_unit * (len + 1);
        }
    };
    let len = view.i64_at(s + L::STR_LENGTH).max(0) as u64;
    let state = view.u32_at(s + L::STR_STATE);
    let kind = ((state >> 2) & 7) as u64;
    let compact = state & (1 << 5) != 0;
    let ascii = state & (1 << 6) != 0;
    let (mut size, data) = if compact && ascii {
        (sl.ascii_size + len + 1, s + sl.ascii_size)
    } else if compact {
        (sl.compact_size + (len + 1) * kind, s + sl.compact_size)
    } else {
        let data = view.word(s + sl.legacy_data);
        (
            sl.legacy_size + if data != 0 { (len + 1) * kind } else { 0 },
            data,
        )
    };
    if let Some((wstr_at, wstr_len_at)) = sl.wstr {
        let wstr = view.word(s + wstr_at);
        let ready = state & (1 << 7) != 0;
        if wstr != 0 && (!ready || wstr != data) {
            let wlen = if compact && ascii {
                len
            } else {
                view.word(s + wstr_len_at)
            };
            size += (wlen + 1) * 4;
        }
    }
    if !(compact && ascii) {
        let utf8 = view.word(s + sl.utf8);
        if utf8 != 0 && utf8 != data {
            size += view.word(s + sl.utf8_length) + 1;
        }
    }
    size
}
