//! The shape of a CPython version: typed offset tables (`Layout`) and the offsets all supported
//! versions share. One table per minor version lives in [`super::tables`]; a new version is one
//! more table. Fields whose value drifts between patch releases of the same minor version (the
//! GC generation heads of 3.13.x) are validated at run time by the walker. Offsets are in bytes,
//! x86-64, default (GIL) builds.

/// Where the GC state (`struct _gc_runtime_state`) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcState {
    /// 3.9+: inside each interpreter, at this offset.
    Interpreter(u64),
    /// 3.7/3.8: one for the runtime, at this offset in `_PyRuntime`.
    Runtime(u64),
    /// 2.7/3.6: a static array in gcmodule.c; `_PyGC_generation0` (exported) points to its first
    /// list head, and the generation offsets count from there.
    Generation0,
}

/// Where the list of interpreters starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterpretersHead {
    /// 3.7+: `_PyRuntime.interpreters.head`, at this offset.
    Runtime(u64),
    /// 2.7/3.6: the C static `interp_head` (from `.symtab`).
    Static,
}

/// How the interpreter-state fields are reached.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeLayout {
    pub interpreters: InterpretersHead,
    pub interp_next: u64,
    pub interp_threads_head: u64,
    pub gc_state: GcState,
    pub interp_modules: u64,
    pub interp_sysdict: u64,
    pub interp_builtins: u64,
    /// Per-interpreter dict of interned strings (3.12+); `None`: a C static (`interned`).
    pub interp_interned: Option<u64>,
    pub tstate_next: u64,
    /// `tstate->native_thread_id`: the thread's OS id, as in `/proc/<pid>/task` (3.11+).
    pub tstate_native_thread_id: Option<u64>,
    /// Where a thread's innermost frame is.
    pub current_frame: CurrentFrame,
}

#[derive(Debug, Clone, Copy)]
pub enum CurrentFrame {
    /// A field of the thread state: `tstate->frame` (≤3.10, a frame object) or
    /// `tstate->current_frame` (3.13+, an interpreter frame; what it points to is
    /// [`Layout::frames`]'s business).
    Field(u64),
    /// 3.11/3.12: `tstate->cframe->current_frame`.
    ViaCFrame { cframe: u64, current_frame: u64 },
}

/// The GC state: generation list heads (candidates, validated at run time).
#[derive(Debug, Clone, Copy)]
pub struct GcLayout {
    /// Size of `PyGC_Head` before each tracked object.
    pub head_size: u64,
    /// Offsets of the three generation heads, and alternatives to try if those do not validate
    /// (3.13.x builds whose `PyGC_Head` alignment is 4).
    pub generations: [u64; 3],
    pub generations_alt: Option<[u64; 3]>,
    /// The permanent generation (3.7+), which `gc.get_objects()` leaves out.
    pub permanent: Option<u64>,
    /// The age of the objects on each generation list, youngest 1 (the permanent generation
    /// is oldest: [`GC_AGE_OLDEST`]). An object only ever moves to an older list, so an object
    /// younger than the one at the same address in an earlier snapshot is another object.
    /// 3.14's lists 1 and 2 are of one age: 3.14.0–3.14.4's incremental collector moves
    /// objects between its two old spaces both ways.
    pub list_ages: [u8; 3],
    /// Where the collector's "collection in progress" flag is (a C `int`, non-zero while it
    /// collects; the generation lists are then spliced or hold reference counts).
    pub collecting: Collecting,
    /// How an object's GC header says the collector tracks it.
    pub tracked: TrackedMark,
}

/// The age of the oldest generation's objects (see [`GcLayout::list_ages`]); 0 is an object on
/// no list.
pub const GC_AGE_OLDEST: u8 = 3;

/// The list ages of a generational collector.
pub const GENERATIONAL: [u8; 3] = [1, 2, GC_AGE_OLDEST];

/// How a GC header marks a tracked object (`_PyObject_GC_IS_TRACKED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackedMark {
    /// 3.8+: the header's first word, `_gc_next`, is not null.
    NextNotNull,
    /// ≤3.7: `gc_refs`, at this offset in the header, is not `_PyGC_REFS_UNTRACKED` (-2).
    RefsNotUntracked(u64),
}

/// Where the collector says it is collecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collecting {
    /// 3.7+: `gcstate->collecting`, at this offset in the GC state.
    InState(u64),
    /// 2.7/3.6: the C static `collecting` of gcmodule.c (`.symtab`; unknown when stripped).
    Static,
}

/// Where an instance keeps its attributes when its class uses a managed dict (3.11+). Offsets
/// count back from the object's address (the pre-header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagedDict {
    /// ≤3.10: no managed dicts; instance dicts are at `tp_dictoffset`.
    None,
    /// 3.11: `PyDictValues*` at `o - values`, dict at `o - dict`.
    ValuesAndDict { values: u64, dict: u64 },
    /// 3.12: one tagged word at `o - word`: bit 0 set → the values pointer minus 1, else the
    /// dict.
    Tagged { word: u64 },
    /// 3.13+: dict at `o - dict`; inline values at `o + tp_basicsize` for INLINE_VALUES types.
    InlineValues { dict: u64 },
}

/// Rules of `sys.getsizeof` for the GC/pre-header part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderRule {
    /// ≤3.10: the GC header (`GcLayout::head_size`) if the object is a GC object
    /// (`PyObject_IS_GC`).
    GcObject,
    /// 3.11: GC header if the type has HAVE_GC, +16 for MANAGED_DICT.
    V311,
    /// 3.12: +16 for MANAGED_DICT or MANAGED_WEAKREF.
    V312,
    /// 3.13+: as 3.12, but nothing for a static type object.
    V313,
}

/// `PySetObject`: where the small table is and how an entry is laid out.
#[derive(Debug, Clone, Copy)]
pub struct SetLayout {
    pub smalltable: u64,
    /// Offsets of key and hash in a 16-byte entry (3.x `{key, hash}`, 2.7 `{hash, key}`).
    pub key: u64,
    pub hash: u64,
    /// 3.x marks deleted entries with hash -1; 2.7 only by the dummy key (a `str`
    /// `"<dummy key>"`).
    pub dummy_hash: bool,
}

/// `functools._lru_cache_wrapper` (`lru_cache_object`): its named object fields, and the
/// circular list of `_lru_list_elem` entries rooted in the object itself (a bounded cache
/// keeps its results there; its `cache` dict maps each key to an entry).
#[derive(Debug, Clone, Copy)]
pub struct LruCacheLayout {
    /// Object fields: `cache`, `__wrapped__` (the function), `__dict__`.
    pub fields: &'static [(u64, &'static str)],
    /// 3.6: `tp_traverse` visits the entries themselves (GC objects then); 3.7+ visits each
    /// entry's key and result.
    pub visits_entries: bool,
    /// In the root and in every entry: the next entry, the key, the result.
    pub next: u64,
    pub key: u64,
    pub result: u64,
}

/// `collections.deque`: where its length and first block are, and the block layout.
#[derive(Debug, Clone, Copy)]
pub struct DequeLayout {
    /// `ob_size` (3.x) or `len` (2.7).
    pub len: u64,
    pub leftblock: u64,
    pub leftindex: u64,
    /// Items per block, where they start in a block, where the next block's pointer is, and
    /// `sizeof(block)`.
    pub block_items: u64,
    pub block_data: u64,
    pub block_next: u64,
    pub block_size: u64,
    /// `deque.__sizeof__` counts `(leftindex + len + BLOCKLEN) / BLOCKLEN` blocks (3.x: a
    /// spare one when the last is full); otherwise it rounds up (2.7).
    pub sizeof_spare_block: bool,
}

/// How a dict's key table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DictKeysLayout {
    /// 2.7: no key object; `ma_mask` +32, `ma_table` +40 (`{hash, key, value}` slots, live when
    /// the value is set), `ma_smalltable` +56; keys and values are always visited.
    V27,
    /// 3.6–3.10: `dk_size` +8, `dk_lookup` +16 (the general `lookdict` visits keys), `dk_usable`
    /// +24, `dk_nentries` +32, indices +40; entries are `{hash, key, value}`.
    V36,
    /// 3.11+: `dk_log2_size` u8 +8, `dk_log2_index_bytes` u8 +9, `dk_kind` u8 +10, `dk_usable`
    /// +16, `dk_nentries` +24, indices +32; entries `{hash, key, value}` or `{key, value}`.
    V311,
}

/// How `PyDictValues` is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DictValues {
    /// ≤3.12: the values array starts at the pointer.
    Plain,
    /// 3.13+: a prefix of bytes, then the values array.
    Prefixed(ValuesPrefix),
}

/// 3.13+ `PyDictValues`: `{capacity u8, size u8, embedded u8, valid u8, pad, values[]}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValuesPrefix {
    pub capacity: u64,
    /// Non-zero when the values are embedded in an instance.
    pub embedded: u64,
    /// Non-zero while an instance's inline values hold its attributes.
    pub valid: u64,
    pub array: u64,
}

/// How text objects are laid out.
#[derive(Debug, Clone, Copy)]
pub enum Strings {
    /// 3.x: PEP 393 `str` (compact ASCII / compact / legacy).
    Pep393(StrLayout),
    /// 2.7: identifiers are `str` (bytes: `ob_size` chars at +36); `unicode` is
    /// `{length +16, str +24}` with `unit`-byte code units.
    Py2 { unicode_unit: u64 },
}

#[derive(Debug, Clone, Copy)]
pub struct StrLayout {
    pub ascii_size: u64,
    pub compact_size: u64,
    pub legacy_size: u64,
    pub utf8_length: u64,
    pub utf8: u64,
    pub legacy_data: u64,
    /// `(wstr, wstr_length)` up to 3.11.
    pub wstr: Option<(u64, u64)>,
}

/// Where a `PyLongObject` (3.x, and 2.7's `long`) keeps its size and digits.
#[derive(Debug, Clone, Copy)]
pub struct LongFields {
    /// `ob_size` (≤3.11: the signed digit count) or `lv_tag` (3.12+: count << 3 | sign).
    pub size: u64,
    /// `ob_digit`: 30-bit digits in 32-bit words.
    pub digits: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongLayout {
    /// 2.7: `int` is a machine word (`ob_ival` +16), `long` uses the default size rule.
    Py2,
    /// ≤3.11: signed `ob_size` is the digit count; `__sizeof__` counts at least one digit
    /// from 3.11 on.
    ObSize { min_one_digit: bool },
    /// 3.12+: `lv_tag >> 3` is the digit count.
    LvTag,
}

#[derive(Debug, Clone, Copy)]
pub struct HeapTypeLayout {
    pub sizeof_type: u64,
    pub sizeof_heap_type: u64,
    pub ht_name: u64,
    pub ht_slots: u64,
    /// 3.x (2.7 classes have only `ht_name`).
    pub ht_qualname: Option<u64>,
    /// 3.x: shared keys of split instance dicts, counted by `type.__sizeof__`.
    pub ht_cached_keys: Option<u64>,
    /// 3.9+.
    pub ht_module: Option<u64>,
}

/// How `code.__sizeof__` is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSize {
    /// 2.7: `tp_basicsize`.
    Basic,
    /// 3.11+: `round8(tp_basicsize + 2 * ob_size)` (inline bytecode) + `co_extra`.
    Inline,
    /// ≤3.10: `tp_basicsize` + 8 per cell if `co_cell2arg` + `co_extra` + the opcache (3.8+:
    /// `(co_opcache, co_opcache_size)`; `len(co_code)/2 + 32 * co_opcache_size` once allocated).
    Separate {
        cell2arg: u64,
        cellvars: u64,
        code: u64,
        opcache: Option<(u64, u64)>,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct CodeLayout {
    /// Object fields (for full mode).
    pub object_fields: &'static [(u64, &'static str)],
    /// Names of the fast locals: `co_localsplusnames` (3.11+), `co_varnames` before.
    pub localsplusnames: u64,
    /// The name shown for a frame: `co_qualname` (3.11+), `co_name` before.
    pub qualname: u64,
    /// Number of fast locals (u32): `co_nlocalsplus` (3.11+), `co_nlocals` before.
    pub nlocalsplus: u64,
    pub stacksize: u64,
    /// `co_framesize` (3.12+).
    pub framesize: Option<u64>,
    /// `co_extra` (3.6+).
    pub co_extra: Option<u64>,
    pub size: CodeSize,
}

/// `_PyInterpreterFrame` (3.11+).
#[derive(Debug, Clone, Copy)]
pub struct InterpFrameLayout {
    pub code: u64,
    pub func: u64,
    pub globals: u64,
    pub builtins: u64,
    pub locals: u64,
    pub frame_obj: u64,
    pub previous: u64,
    /// Where the end of the live locals-plus slots is recorded.
    pub stack_depth: StackDepth,
    pub owner: u64,
    pub localsplus: u64,
    /// Frames whose `owner` is at least this are C-stack / interpreter shim frames holding
    /// nothing (3.12+).
    pub owner_shim_min: Option<u8>,
    /// 3.14+: the code, function and locals-plus slots are tagged `_PyStackRef`s.
    pub stack_refs: bool,
    /// `(sizeof(_PyInterpreterFrame) - 1) / 8`, used by frame/generator sizes.
    pub specials_words: u64,
}

/// How far the live locals-plus slots of an interpreter frame go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackDepth {
    /// 3.11–3.13: `int stacktop`, a slot count, at this offset.
    Count(u64),
    /// 3.14+: `_PyStackRef *stackpointer`, one past the last live slot, at this offset.
    Pointer(u64),
}

/// `PyFrameObject` (3.11+).
#[derive(Debug, Clone, Copy)]
pub struct FrameLayout {
    pub f_frame: u64,
    /// Object fields visited by `frame_traverse` (f_back, f_trace, 3.13 extra locals...).
    pub visited: &'static [(u64, &'static str)],
    pub frame_data: u64,
}

/// `PyGenObject` (3.11+).
#[derive(Debug, Clone, Copy)]
pub struct GenLayout {
    /// Object fields visited (code (3.11), name, qualname, exception value).
    pub visited: &'static [(u64, &'static str)],
    pub code: Option<u64>,
    /// `ag_origin_or_finalizer`, visited for async generators only.
    pub origin_or_finalizer: u64,
    pub frame_state: u64,
    pub iframe: u64,
    /// `FRAME_CLEARED`: from this state on the generator's frame holds nothing.
    pub frame_cleared: i8,
    /// 3.14+: a cleared generator still visits its code object.
    pub visits_code_when_cleared: bool,
}

/// `PyFrameObject` up to 3.10: a GC object holding its locals and value stack.
#[derive(Debug, Clone, Copy)]
pub struct FrameObjectLayout {
    pub code: u64,
    /// Object fields `frame_traverse` visits (back, code, builtins, globals, locals, trace).
    pub visited: &'static [(u64, &'static str)],
    pub back: u64,
    pub valuestack: u64,
    pub stack: ValueStack,
    pub localsplus: u64,
    /// `sizeof(PyFrameObject)` (one locals-plus slot included).
    pub sizeof: u64,
    /// In the code object: `co_cellvars` and `co_freevars` (tuples), for the slot count.
    pub code_cellvars: u64,
    pub code_freevars: u64,
}

/// How much of a ≤3.10 frame's value stack is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueStack {
    /// ≤3.9: `f_stacktop` pointer (NULL while the frame runs).
    Top(u64),
    /// 3.10: `int f_stackdepth`.
    Depth(u64),
}

/// `PyGenObject` up to 3.10: a frame-object pointer and plain fields.
#[derive(Debug, Clone, Copy)]
pub struct GenObjectLayout {
    /// Object fields `gen_traverse` visits (frame, code, name, qualname, exception state).
    pub visited: &'static [(u64, &'static str)],
    /// `ag_finalizer`, visited for async generators only.
    pub finalizer: u64,
}

/// How frames and generators are represented.
#[derive(Debug, Clone, Copy)]
pub enum Frames {
    /// 3.11+: `_PyInterpreterFrame`s on the thread's data stack, embedded in frame objects
    /// and generators once they outlive the call.
    Interpreter {
        frame: FrameLayout,
        iframe: InterpFrameLayout,
        gen: GenLayout,
    },
    /// ≤3.10: every frame is a `PyFrameObject`.
    Objects {
        frame: FrameObjectLayout,
        gen: GenObjectLayout,
    },
}

/// Where a module keeps its C state and how it is traversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleLayout {
    /// 2.7: only `md_dict`.
    DictOnly,
    /// ≤3.14: `md_def` (→ `m_size` +56, `m_traverse` +80) and `md_state`.
    ViaDef { def: u64, state: u64 },
    /// 3.15+: `md_state`, `md_state_size` and `md_state_traverse` in the module itself.
    Direct {
        state: u64,
        size: u64,
        traverse: u64,
    },
}

/// Which reference-count words belong to live objects (used to reject stale pointers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefcountRule {
    /// ≤3.13: a plain count (3.12/3.13 immortals are 0xFFFFFFFF).
    Plain,
    /// 3.14+: u32 count, u16 overflow (0), u16 flags (immortal 1, static 4).
    SplitWithFlags,
}

/// How `bytearray.__sizeof__` counts the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteArrayRule {
    /// ≤3.14: `tp_basicsize + ob_alloc` (`ob_alloc` at this offset).
    Inline { alloc: u64 },
    /// 3.15+: the buffer is a `bytes` object:
    /// `tp_basicsize + (ob_alloc ? bytes_header + ob_alloc : 0)` (`bytes_header`: 33, the bytes
    /// object's own size with its trailing NUL).
    BytesObject { alloc: u64, bytes_header: u64 },
}

/// `sys.getsizeof` beyond the core objects: the pre-header it adds, and where the C types whose
/// own `__sizeof__` counts memory they own keep its size. A rule applies only to a type whose
/// dict defines a C `__sizeof__` (so a field is unused on versions where the type has none).
/// Offsets are measured on each build (tests/ground_truth.rs, fixtures/buffers.py).
#[derive(Debug, Clone, Copy)]
pub struct SizeLayout {
    /// Bytes before the object for MANAGED_DICT / MANAGED_WEAKREF types (3.11+).
    pub managed_preheader: u64,
    /// `array.array`: `allocated` items of `ob_descr->itemsize` bytes (an `int` in the descr).
    pub array_allocated: u64,
    pub array_descr: u64,
    pub array_descr_itemsize: u64,
    pub bytesio: BytesIoBuffer,
    /// `_io.Buffered{Reader,Writer,Random}`: `buffer_size` bytes while `buffer` is set.
    pub buffered_buffer: u64,
    pub buffered_buffer_size: u64,
    /// `_struct.Struct`: its format codes (`s_codes`, `struct_code_size` bytes each, the last
    /// one's `fmtdef` NULL), at most `s_len + 1` (`s_len` counts items: `4B` is one code).
    pub struct_codes: u64,
    pub struct_len: u64,
    pub struct_code_size: u64,
    /// `decimal.Decimal` (3.x): the `mpd_t` flags byte and `alloc` (words of 8 bytes, counted
    /// unless a data flag — static, shared, const: `0xe0` — is set).
    pub decimal_flags: u64,
    pub decimal_alloc: u64,
    /// `itertools` (3.x): `product` counts a word per pool (`pools` tuple), `combinations` and
    /// `combinations_with_replacement` a word per `r`, `permutations` both.
    pub product_pools: u64,
    pub combinations_r: u64,
    pub permutations_pool: u64,
    pub permutations_r: u64,
    /// `xml.etree.ElementTree.Element` (3.x): `extra` (its struct, `extra_size` bytes) and,
    /// when the children array is not the 4 inline slots, `allocated` words.
    pub element_extra: u64,
    pub element_extra_size: u64,
    pub element_allocated: u64,
    pub element_children: u64,
    pub element_inline_children: u64,
    /// `_queue.SimpleQueue` (3.15+): a ring buffer of `capacity` words.
    pub simple_queue_capacity: u64,
    /// ctypes, 3.7–3.12: `StgDict` (a ctypes type's dict) counts `dict.__sizeof__`, its fields
    /// after the `PyDictObject` (`stgdict_dict_size` bytes), and [`StgFields`] at these offsets
    /// from the object.
    pub stgdict_dict_size: u64,
    pub stgdict: StgFields,
    /// ctypes, 3.13+: `_ctypes.CType_Type.__sizeof__` (the metatype of ctypes types) counts the
    /// type's basic and variable size and [`StgFields`] of its `StgInfo`, which lies after the
    /// heap type object (rounded up to 16 bytes) and counts only once `initialized` (an int at
    /// its start) is set.
    pub stginfo: StgFields,
}

/// What ctypes' type information (`StgDict` / `StgInfo`) owns: the `format` string with its
/// NUL, `ndim` (an int) words of shape, and `length + 1` words of `ffi_type` elements while
/// `elements` is set.
#[derive(Debug, Clone, Copy)]
pub struct StgFields {
    pub length: u64,
    pub elements: u64,
    pub format: u64,
    pub ndim: u64,
}

/// Where `io.BytesIO` keeps its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BytesIoBuffer {
    /// 2.7: a `char *` (this offset) of `buf_size` bytes.
    Raw { buf: u64, buf_size: u64 },
    /// 3.x: a `bytes` object, counted (its own `sys.getsizeof`) unless shared (refcount > 1).
    BytesObject { buf: u64 },
}

/// Word indices, in `_Py_DebugOffsets` (3.13+), of the runtime fields it covers, and of the
/// sizes of the structures they are in (for validation). The struct is only stable within a
/// minor version, so each table names its own indices.
#[derive(Debug, Clone, Copy)]
pub struct DebugOffsetIndices {
    /// `runtime_state.size`: `sizeof(_PyRuntimeState)`.
    pub runtime_size: u64,
    pub interpreters_head: u64,
    /// `interpreter_state.size`: `sizeof(PyInterpreterState)`.
    pub interp_size: u64,
    pub interp_next: u64,
    pub interp_threads_head: u64,
    pub interp_gc: u64,
    pub interp_modules: u64,
    pub interp_sysdict: u64,
    pub interp_builtins: u64,
}

impl DebugOffsetIndices {
    /// The indices of the runtime fields, in the order of `interpreter::DEBUG_FIELDS`.
    pub fn fields(&self) -> [u64; 7] {
        [
            self.interpreters_head,
            self.interp_next,
            self.interp_threads_head,
            self.interp_gc,
            self.interp_modules,
            self.interp_sysdict,
            self.interp_builtins,
        ]
    }
}

/// Everything version-specific the walker needs.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Present when the runtime carries `_Py_DebugOffsets` (3.13+).
    pub debug_offsets: Option<DebugOffsetIndices>,
    pub runtime: RuntimeLayout,
    pub gc: GcLayout,
    pub tuple_items: u64,
    pub managed_dict: ManagedDict,
    pub dict_keys: DictKeysLayout,
    pub dict_values: DictValues,
    pub header: HeaderRule,
    pub strings: Strings,
    pub set: SetLayout,
    pub deque: DequeLayout,
    /// `functools.lru_cache` wrappers (the C implementation, 3.x), if the version has them.
    pub lru_cache: Option<LruCacheLayout>,
    /// Object fields of a bound method (`im_func`, `im_self`, 2.7 `im_class`).
    pub method_fields: &'static [(u64, &'static str)],
    pub long: LongLayout,
    pub long_fields: LongFields,
    pub heap_type: HeapTypeLayout,
    /// Object fields of `PyFunctionObject` visited by `func_traverse`: a list shared by
    /// several versions, then the fields a version adds.
    pub function_fields: &'static [(u64, &'static str)],
    pub function_fields_added: &'static [(u64, &'static str)],
    pub code: CodeLayout,
    pub frames: Frames,
    pub module: ModuleLayout,
    /// 2.7 old-style classes and their instances: the object fields their traverse visits
    /// (empty from 3.0 on, which has none).
    pub old_class_fields: &'static [(u64, &'static str)],
    pub old_instance_fields: &'static [(u64, &'static str)],
    pub refcount: RefcountRule,
    pub bytearray: ByteArrayRule,
    /// `sys.getsizeof` of C types that own memory (kept apart from the object layouts).
    pub sizes: SizeLayout,
    /// The size of the object allocator's (pymalloc's) pools: 4 KiB up to 3.9, 16 KiB from
    /// 3.10 (their arenas grew from 256 KiB to 1 MiB).
    pub pymalloc_pool: u64,
    /// From this micro version of the minor series on, an instance with a materialised
    /// `__dict__` visits the dict (not its inline values), and the dict visits its values even
    /// when they are embedded (gh-130327; 3.13.0 behaves the old way, 3.13.18 the new one).
    pub dict_first_since_micro: Option<u8>,
    /// Whether that applies to the running interpreter (set when the version is known).
    pub dict_first: bool,
}

impl Layout {
    /// Whether `flags` mark a managed dict (3.11+; bit 4 means something else before).
    pub fn has_managed_dict(&self, flags: u64) -> bool {
        self.managed_dict != ManagedDict::None && flags & TPFLAGS_MANAGED_DICT != 0
    }

    /// The interpreter-frame layout (3.11+).
    pub fn iframe(&self) -> Option<&InterpFrameLayout> {
        match &self.frames {
            Frames::Interpreter { iframe, .. } => Some(iframe),
            Frames::Objects { .. } => None,
        }
    }
}

// Offsets common to all supported versions (x86-64).
pub const OB_TYPE: u64 = 8;
pub const OB_SIZE: u64 = 16;
pub const TP_NAME: u64 = 24;
pub const TP_BASICSIZE: u64 = 32;
pub const TP_ITEMSIZE: u64 = 40;
pub const TP_FLAGS: u64 = 168;
pub const TP_TRAVERSE: u64 = 184;
pub const TP_BASE: u64 = 256;
pub const TP_DICT: u64 = 264;
pub const TP_DICTOFFSET: u64 = 288;
pub const TP_IS_GC: u64 = 328;
pub const TP_BASES: u64 = 336;
pub const TP_MRO: u64 = 344;
pub const TP_CACHE: u64 = 352;
pub const TP_SUBCLASSES: u64 = 360;
pub const LIST_ITEMS: u64 = 24;
pub const LIST_ALLOCATED: u64 = 32;
pub const DICT_USED: u64 = 16;
pub const DICT_KEYS: u64 = 32;
pub const DICT_VALUES: u64 = 40;
/// 2.7 `PyDictObject`: `ma_mask`, `ma_table`, and the table inside the dict (`ma_smalltable`).
pub const DICT27_MASK: u64 = 32;
pub const DICT27_TABLE: u64 = 40;
pub const DICT27_SMALLTABLE: u64 = 56;
/// 3.6–3.10 key object ([`DictKeysLayout::V36`]): `dk_size`, `dk_lookup`, `dk_usable`,
/// `dk_nentries`; the indices follow the header.
pub const DK36_SIZE: u64 = 8;
pub const DK36_LOOKUP: u64 = 16;
pub const DK36_USABLE: u64 = 24;
pub const DK36_NENTRIES: u64 = 32;
pub const DK36_HEADER: u64 = 40;
/// 3.11+ key object ([`DictKeysLayout::V311`]): `dk_log2_size`, `dk_log2_index_bytes` and
/// `dk_kind` (bytes), `dk_usable`, `dk_nentries`; the indices follow the header.
pub const DK311_LOG2_SIZE: u64 = 8;
pub const DK311_LOG2_INDEX_BYTES: u64 = 9;
pub const DK311_KIND: u64 = 10;
pub const DK311_USABLE: u64 = 16;
pub const DK311_NENTRIES: u64 = 24;
pub const DK311_HEADER: u64 = 32;
pub const SET_MASK: u64 = 32;
pub const SET_TABLE: u64 = 40;
pub const STR_LENGTH: u64 = 16;
/// 2.7 `PyStringObject`: the bytes (`ob_sval`) follow the hash and the interning state.
pub const PY2_STR_DATA: u64 = 36;
pub const STR_STATE: u64 = 32;
pub const MODULE_DICT: u64 = 16;
pub const MODULEDEF_SIZE: u64 = 56;
pub const MODULEDEF_TRAVERSE: u64 = 80;
pub const CELL_REF: u64 = 16;
/// `PyODictObject` (3.x): `od_first` (node list), `od_fast_nodes_size`, `od_inst_dict`.
pub const ODICT_FIRST: u64 = 48;
pub const ODICT_FAST_NODES_SIZE: u64 = 72;
pub const ODICT_INST_DICT: u64 = 96;
/// `_odictnode` (3.x): `{key, hash, next, prev}`.
pub const ODICT_NODE_KEY: u64 = 0;
pub const ODICT_NODE_NEXT: u64 = 16;
pub const CFUNC_ML: u64 = 16;
pub const CFUNC_SELF: u64 = 24;
pub const CFUNC_MODULE: u64 = 32;
pub const CMETHOD_CLASS: u64 = 56;
pub const METHODDEF_FLAGS: u64 = 16;
pub const METH_METHOD: u32 = 0x0200;
pub const WEAKREF_CALLBACK: u64 = 24;
pub const DESCR_TYPE: u64 = 16;
pub const DESCR_NAME: u64 = 24;
pub const DESCR_QUALNAME: u64 = 32;
pub const MEMBERDEF_SIZE: u64 = 40;
pub const MEMBERDEF_TYPE: u64 = 8;
pub const MEMBERDEF_OFFSET: u64 = 16;
/// `T_OBJECT` and `T_OBJECT_EX` member types: slots holding object references.
pub const T_OBJECT: u32 = 6;
pub const T_OBJECT_EX: u32 = 16;

// Type flags.
pub const TPFLAGS_INLINE_VALUES: u64 = 1 << 2;
pub const TPFLAGS_MANAGED_WEAKREF: u64 = 1 << 3;
pub const TPFLAGS_MANAGED_DICT: u64 = 1 << 4;
pub const TPFLAGS_HEAPTYPE: u64 = 1 << 9;
pub const TPFLAGS_READY: u64 = 1 << 12;
pub const TPFLAGS_HAVE_GC: u64 = 1 << 14;
pub const TPFLAGS_TYPE_SUBCLASS: u64 = 1 << 31;
