//! `sys.getsizeof`, reproduced from memory: the type's `__sizeof__` plus the GC header and
//! pre-header that `sys.getsizeof` adds, with the rules of each version.

use super::objects::View;
use super::referents::frame_object_slots;
use super::types::{Kind, ScalarElement, SizeRule, TypeInfo};
use crate::interpreter::layout::{
    self as L, ByteArrayRule, BytesIoBuffer, CodeSize, DictKeysLayout, Frames, HeaderRule,
    LongLayout, StgFields, Strings,
};
use crate::memory::Memory;

/// The size of `obj` and whether it is exact (false for `__sizeof__` we cannot reproduce).
pub fn getsizeof(view: &View, obj: u64, ty: &TypeInfo) -> (u64, bool) {
    let (body, exact) = sizeof(view, obj, ty);
    (body + header(view, obj, ty), exact)
}

/// The part `sys.getsizeof` adds to `__sizeof__`.
fn header(view: &View, obj: u64, ty: &TypeInfo) -> u64 {
    let gc = if ty.has_gc() {
        view.layout.gc.head_size
    } else {
        0
    };
    let preheader = view.layout.sizes.managed_preheader;
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
                preheader
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
            gc + if ty.flags & pre != 0 { preheader } else { 0 }
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
            // `offsetof(PyLongObject, ob_digit)` plus 4 bytes per digit.
            LongLayout::ObSize { min_one_digit } => {
                let digits = view.ob_size(obj).unsigned_abs();
                lay.long_fields.digits + 4 * if min_one_digit { digits.max(1) } else { digits }
            }
            LongLayout::LvTag => {
                let digits = view.word(obj + lay.long_fields.size) >> 3;
                lay.long_fields.digits + 4 * digits.max(1)
            }
        },
        SizeRule::ByteArray => {
            match lay.bytearray {
                ByteArrayRule::Inline { alloc } => ty.basicsize + view.word(obj + alloc),
                // 3.15: the buffer is a bytes object unless empty.
                ByteArrayRule::BytesObject {
                    alloc,
                    bytes_header,
                } => {
                    let alloc = view.word(obj + alloc);
                    ty.basicsize + if alloc > 0 { bytes_header + alloc } else { 0 }
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
        SizeRule::NdArray { object_size } => {
            return numpy::array_size(view, obj, object_size.unwrap_or(ty.basicsize))
        }
        SizeRule::Array => {
            // The descriptor is a static table in the module's read-only data, outside the
            // copy: read through the image's fallback (the live process).
            let descr = view.word(obj + lay.sizes.array_descr);
            let mut itemsize = [0u8; 4];
            if descr == 0
                || view
                    .image
                    .read(descr + lay.sizes.array_descr_itemsize, &mut itemsize)
                    .is_err()
            {
                return (ty.basicsize, false);
            }
            let allocated = view.word(obj + lay.sizes.array_allocated).min(1 << 40);
            ty.basicsize + allocated.saturating_mul(u32::from_le_bytes(itemsize) as u64)
        }
        SizeRule::StgDict => {
            let sz = &lay.sizes;
            dict_size(view, obj, ty)
                + ty.basicsize.saturating_sub(sz.stgdict_dict_size)
                + stg_owned(view, obj, &sz.stgdict)
        }
        SizeRule::CTypeType => {
            let info = (lay.heap_type.sizeof_heap_type + 15) & !15;
            let owned = if view.u32_at(obj + info) != 0 {
                stg_owned(view, obj + info, &lay.sizes.stginfo)
            } else {
                0
            };
            default_size(view, obj, ty) + owned
        }
        SizeRule::NumpyScalar(element) => {
            let element = match element {
                ScalarElement::Fixed(n) => n,
                ScalarElement::Bytes => view.ob_size(obj).max(0) as u64,
                ScalarElement::Void => match numpy::element_size(view, view.word(obj + 32)) {
                    Some(n) => n,
                    None => return (default_size(view, obj, ty), false),
                },
            };
            default_size(view, obj, ty) + element
        }
        SizeRule::BytesIo
        | SizeRule::Buffered
        | SizeRule::Struct
        | SizeRule::Decimal
        | SizeRule::ItertoolsProduct
        | SizeRule::ItertoolsCombinations
        | SizeRule::ItertoolsPermutations
        | SizeRule::Element
        | SizeRule::SimpleQueue => ty.basicsize + owned_buffer(view, obj, ty.size_rule),
    };
    (size, true)
}

/// The memory a standard-library C type counts in its `__sizeof__` on top of its basic size
/// (0 when it owns none at the moment, or for another rule).
fn owned_buffer(view: &View, obj: u64, rule: SizeRule) -> u64 {
    let sz = &view.layout.sizes;
    let word = |off: u64| view.word(obj + off);
    let clamp = |n: u64| n.min(1 << 40);
    match rule {
        SizeRule::BytesIo => match sz.bytesio {
            BytesIoBuffer::Raw { buf, buf_size } if word(buf) != 0 => clamp(word(buf_size)),
            BytesIoBuffer::Raw { .. } => 0,
            BytesIoBuffer::BytesObject { buf } => {
                let buf = word(buf);
                // Counted unless shared (`Py_REFCNT(buf) > 1`: the low 32 bits of the
                // reference count word in every version).
                if buf != 0 && view.u32_at(buf) <= 1 {
                    let bytes_type = view.ob_type(buf);
                    view.word(bytes_type + L::TP_BASICSIZE) + clamp(view.ob_size(buf).max(0) as u64)
                } else {
                    0
                }
            }
        },
        SizeRule::Buffered if word(sz.buffered_buffer) != 0 => clamp(word(sz.buffered_buffer_size)),
        SizeRule::Struct => {
            // Counted up to and with the terminating code (NULL `fmtdef`).
            let codes = word(sz.struct_codes);
            let most = word(sz.struct_len).min(1 << 20) + 1;
            let n = (0..most)
                .position(|i| view.word(codes + i * sz.struct_code_size) == 0)
                .map_or(most, |i| i as u64 + 1);
            sz.struct_code_size * n
        }
        SizeRule::Decimal => {
            const MPD_DATAFLAGS: u8 = 0xe0;
            if view.u8_at(obj + sz.decimal_flags) & MPD_DATAFLAGS == 0 {
                8 * clamp(word(sz.decimal_alloc))
            } else {
                0
            }
        }
        SizeRule::ItertoolsProduct => 8 * tuple_len(view, word(sz.product_pools)),
        SizeRule::ItertoolsCombinations => 8 * clamp(word(sz.combinations_r)),
        SizeRule::ItertoolsPermutations => {
            8 * (tuple_len(view, word(sz.permutations_pool)) + clamp(word(sz.permutations_r)))
        }
        SizeRule::Element => {
            let extra = word(sz.element_extra);
            if extra == 0 {
                return 0;
            }
            let children = view.word(extra + sz.element_children);
            sz.element_extra_size
                + if children != extra + sz.element_inline_children {
                    8 * clamp(view.word(extra + sz.element_allocated))
                } else {
                    0
                }
        }
        SizeRule::SimpleQueue => 8 * clamp(word(sz.simple_queue_capacity)),
        _ => 0,
    }
}

/// What ctypes' type information at `info` owns (see [`StgFields`]).
fn stg_owned(view: &View, info: u64, f: &StgFields) -> u64 {
    let format = view.word(info + f.format);
    let format_size = if format != 0 {
        view.image
            .read_c_string(format, 1 << 16)
            .map_or(0, |s| s.len() as u64 + 1)
    } else {
        0
    };
    let ndim = (view.u32_at(info + f.ndim) as i32).max(0) as u64;
    let elements = if view.word(info + f.elements) != 0 {
        8 * (view.word(info + f.length).min(1 << 28) + 1)
    } else {
        0
    };
    format_size + 8 * ndim + elements
}

/// `len(t)` of a tuple (0 for NULL).
fn tuple_len(view: &View, t: u64) -> u64 {
    if t == 0 {
        0
    } else {
        view.ob_size(t).clamp(0, 1 << 28) as u64
    }
}

/// numpy's objects: `PyArrayObject_fields` and `PyArray_Descr`, the same from numpy 1.16 to 2.x
/// but for the descriptor's element size (see [`element_size`]). numpy's version is not
/// CPython's: these are constants, not per-version Layout fields.
pub(super) mod numpy {
    use super::View;
    use crate::interpreter::layout as L;

    /// `sizeof(PyArrayObject_fields)` of numpy < 1.20 (no `_buffer_info`), which their
    /// `ndarray.__sizeof__` counts whatever the subclass.
    pub const OLD_ARRAY_OBJECT: u64 = 80;

    const NDIM: u64 = 24;
    const DIMENSIONS: u64 = 32;
    const DESCR: u64 = 56;
    const FLAGS: u64 = 64;
    const OWNDATA: u32 = 0x4;
    /// `sizeof(PyArray_Descr)` of numpy 1.x: the element size is then an `int` at +32; numpy
    /// 2.x descriptors (88 bytes, 120 for legacy dtypes) hold an `npy_intp` at +40.
    const DESCR_SIZE_1: u64 = 96;

    /// `ndarray.__sizeof__`: `object` + shape and strides + the data if the array owns it;
    /// exact unless the descriptor cannot be read.
    pub fn array_size(view: &View, obj: u64, object: u64) -> (u64, bool) {
        let nd = (view.u32_at(obj + NDIM) as i32).clamp(0, 64) as u64;
        let mut size = object + 16 * nd;
        if view.u32_at(obj + FLAGS) & OWNDATA == 0 {
            return (size, true);
        }
        let Some(element) = element_size(view, view.word(obj + DESCR)) else {
            return (size, false);
        };
        let dims = view.word(obj + DIMENSIONS);
        let items = (0..nd).fold(1u64, |n, i| {
            n.saturating_mul(view.i64_at(dims + 8 * i).max(0) as u64)
        });
        size = size.saturating_add(items.saturating_mul(element));
        (size, true)
    }

    /// `descr->elsize`, by the descriptor type's size (numpy 1.x or 2.x).
    pub fn element_size(view: &View, descr: u64) -> Option<u64> {
        if descr == 0 {
            return None;
        }
        let descr_type_size = view.word(view.ob_type(descr) + L::TP_BASICSIZE);
        Some(if descr_type_size == DESCR_SIZE_1 {
            view.u32_at(descr + 32) as u64
        } else {
            view.i64_at(descr + 40).max(0) as u64
        })
    }
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
