//! Typed offset tables, one per CPython minor version (x86-64, default GIL build).
//!
//! A new version is one more table. Fields whose value drifts between patch releases of the
//! same minor version (the GC generation heads of 3.13.x) are not trusted from the table: the
//! walker validates them at run time. Offsets are in bytes. Sources: the headers of each
//! version, measured (see docs/notes.md) and cross-checked against the live `_Py_DebugOffsets`
//! on 3.13+.

/// How the interpreter-state fields are reached.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeLayout {
    /// `_PyRuntime.interpreters.head`.
    pub interpreters_head: u64,
    pub interp_next: u64,
    pub interp_threads_head: u64,
    /// The per-interpreter `struct _gc_runtime_state`.
    pub interp_gc: u64,
    pub interp_modules: u64,
    pub interp_sysdict: u64,
    pub interp_builtins: u64,
    /// Per-interpreter dict of interned strings (3.12+); `None`: a C static (`interned`).
    pub interp_interned: Option<u64>,
    pub tstate_next: u64,
    /// `tstate->native_thread_id`: the thread's OS id (as in `/proc/<pid>/task`).
    pub tstate_native_thread_id: u64,
    /// Where a thread's innermost `_PyInterpreterFrame*` is.
    pub current_frame: CurrentFrame,
}

#[derive(Debug, Clone, Copy)]
pub enum CurrentFrame {
    /// 3.11/3.12: `tstate->cframe->current_frame`.
    ViaCFrame { cframe: u64, current_frame: u64 },
    /// 3.13+: `tstate->current_frame`.
    Direct(u64),
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
    pub permanent: u64,
}

/// Where an instance keeps its attributes when its class uses a managed dict (3.11+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagedDict {
    /// 3.11: `PyDictValues*` at `o-32`, dict at `o-24`.
    ValuesAndDict,
    /// 3.12: one tagged word at `o-24`: bit 0 set → the values pointer minus 1, else the dict.
    Tagged,
    /// 3.13+: dict at `o-24`; inline values at `o + tp_basicsize` for INLINE_VALUES types.
    InlineValues,
}

/// Rules of `sys.getsizeof` for the GC/pre-header part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderRule {
    /// 3.11: GC header if the type has HAVE_GC, +16 for MANAGED_DICT.
    V311,
    /// 3.12: +16 for MANAGED_DICT or MANAGED_WEAKREF.
    V312,
    /// 3.13+: as 3.12, but nothing for a static type object.
    V313,
}

/// How `PyDictValues` is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DictValues {
    /// 3.11/3.12: the values array starts at the pointer.
    Plain,
    /// 3.13+: `{capacity u8, size u8, embedded u8, valid u8, pad, values[] at +8}`.
    Prefixed,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongLayout {
    /// ≤3.11: signed `ob_size` is the digit count.
    ObSize,
    /// 3.12+: `lv_tag >> 3` is the digit count.
    LvTag,
}

#[derive(Debug, Clone, Copy)]
pub struct HeapTypeLayout {
    pub sizeof_type: u64,
    pub sizeof_heap_type: u64,
    pub ht_name: u64,
    pub ht_slots: u64,
    pub ht_qualname: u64,
    pub ht_cached_keys: u64,
    pub ht_module: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct CodeLayout {
    /// Object fields (for full mode): consts, names, exception table, localsplus names/kinds,
    /// filename, name, qualname, line table.
    pub object_fields: &'static [(u64, &'static str)],
    /// `co_localsplusnames`: names of locals, cells and free variables.
    pub localsplusnames: u64,
    pub qualname: u64,
    pub nlocalsplus: u64,
    pub stacksize: u64,
    /// `co_framesize` (3.12+).
    pub framesize: Option<u64>,
    pub co_extra: u64,
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
    /// `sizeof(_PyInterpreterFrame) / 8` rounded down, used by frame/generator sizes.
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

/// Where a module keeps its C state and how it is traversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleLayout {
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
    /// ≤3.14: `tp_basicsize + ob_alloc`.
    Inline,
    /// 3.15+: the buffer is a `bytes` object: `tp_basicsize + (ob_alloc ? 33 + ob_alloc : 0)`.
    BytesObject,
}

/// Word indices, in `_Py_DebugOffsets` (3.13+), of the runtime fields it covers. The struct is
/// only stable within a minor version, so each table names its own indices.
#[derive(Debug, Clone, Copy)]
pub struct DebugOffsetIndices {
    pub interpreters_head: u64,
    pub interp_next: u64,
    pub interp_threads_head: u64,
    pub interp_gc: u64,
    pub interp_modules: u64,
    pub interp_sysdict: u64,
    pub interp_builtins: u64,
}

/// Everything version-specific the walker needs.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub minor: (u8, u8),
    /// Present when the runtime carries `_Py_DebugOffsets` (3.13+).
    pub debug_offsets: Option<DebugOffsetIndices>,
    pub runtime: RuntimeLayout,
    pub gc: GcLayout,
    pub tuple_items: u64,
    pub managed_dict: ManagedDict,
    pub dict_values: DictValues,
    pub header: HeaderRule,
    pub str_: StrLayout,
    pub long: LongLayout,
    pub heap_type: HeapTypeLayout,
    /// Object fields of `PyFunctionObject` visited by `func_traverse`.
    pub function_fields: &'static [(u64, &'static str)],
    pub code: CodeLayout,
    pub frame: FrameLayout,
    pub iframe: InterpFrameLayout,
    pub gen: GenLayout,
    pub module: ModuleLayout,
    pub refcount: RefcountRule,
    pub bytearray: ByteArrayRule,
    /// From this micro version of the minor series on, an instance with a materialised
    /// `__dict__` visits the dict (not its inline values), and the dict visits its values even
    /// when they are embedded (gh-130327; 3.13.0 behaves the old way, 3.13.18 the new one).
    pub dict_first_since_micro: Option<u8>,
    /// Whether that applies to the running interpreter (set when the version is known).
    pub dict_first: bool,
}

// Offsets common to all supported versions (x86-64).
pub const OB_TYPE: u64 = 8;
pub const OB_SIZE: u64 = 16;
pub const TP_NAME: u64 = 24;
pub const TP_BASICSIZE: u64 = 32;
pub const TP_ITEMSIZE: u64 = 40;
pub const TP_FLAGS: u64 = 168;
pub const TP_TRAVERSE: u64 = 184;
pub const TP_MEMBERS: u64 = 240;
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
pub const SET_MASK: u64 = 32;
pub const SET_TABLE: u64 = 40;
pub const SET_SMALLTABLE: u64 = 64;
pub const STR_LENGTH: u64 = 16;
pub const STR_STATE: u64 = 32;
pub const BYTEARRAY_ALLOC: u64 = 24;
pub const MODULE_DICT: u64 = 16;
pub const MODULEDEF_SIZE: u64 = 56;
pub const MODULEDEF_TRAVERSE: u64 = 80;
pub const CELL_REF: u64 = 16;
pub const METHOD_FUNC: u64 = 16;
pub const METHOD_SELF: u64 = 24;
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
pub const TPFLAGS_LIST_SUBCLASS: u64 = 1 << 25;
pub const TPFLAGS_TUPLE_SUBCLASS: u64 = 1 << 26;
pub const TPFLAGS_DICT_SUBCLASS: u64 = 1 << 29;
pub const TPFLAGS_TYPE_SUBCLASS: u64 = 1 << 31;

/// The offset table for a Python version, if heapsnap supports it.
pub fn layout_for(major: u8, minor: u8) -> Option<&'static Layout> {
    match (major, minor) {
        (3, 11) => Some(&V3_11),
        (3, 12) => Some(&V3_12),
        (3, 13) => Some(&V3_13),
        (3, 14) => Some(&V3_14),
        (3, 15) => Some(&V3_15),
        _ => None,
    }
}

/// The versions that have a table, for error messages.
pub const SUPPORTED: &str = "3.11, 3.12, 3.13, 3.14, 3.15";

const MODULE_3_11: ModuleLayout = ModuleLayout::ViaDef { def: 24, state: 32 };

const GC_3_8_PLUS: GcLayout = GcLayout {
    head_size: 16,
    generations: [24, 48, 72],
    generations_alt: None,
    permanent: 104,
};

const STR_3_11: StrLayout = StrLayout {
    ascii_size: 48,
    compact_size: 72,
    legacy_size: 80,
    utf8_length: 48,
    utf8: 56,
    legacy_data: 72,
    wstr: Some((40, 64)),
};

const STR_3_12: StrLayout = StrLayout {
    ascii_size: 40,
    compact_size: 56,
    legacy_size: 64,
    utf8_length: 40,
    utf8: 48,
    legacy_data: 56,
    wstr: None,
};

/// consts, names, exceptiontable, localsplusnames, localspluskinds, filename, name, qualname,
/// linetable (3.11–3.13).
const CODE_FIELDS_3_11: &[(u64, &str)] = &[
    (24, "co_consts"),
    (32, "co_names"),
    (40, "co_exceptiontable"),
    (96, "co_localsplusnames"),
    (104, "co_localspluskinds"),
    (112, "co_filename"),
    (120, "co_name"),
    (128, "co_qualname"),
    (136, "co_linetable"),
];

/// globals, builtins, name, qualname, code, defaults, kwdefaults, closure, doc, dict, module,
/// annotations (3.10, 3.11).
const FUNC_FIELDS_3_11: &[(u64, &str)] = &[
    (16, "__globals__"),
    (24, "__builtins__"),
    (32, "__name__"),
    (40, "__qualname__"),
    (48, "__code__"),
    (56, "__defaults__"),
    (64, "__kwdefaults__"),
    (72, "__closure__"),
    (80, "__doc__"),
    (88, "__dict__"),
    (104, "__module__"),
    (112, "__annotations__"),
];
/// ... plus typeparams (3.12, 3.13).
const FUNC_FIELDS_3_12: &[(u64, &str)] = &[
    (16, "__globals__"),
    (24, "__builtins__"),
    (32, "__name__"),
    (40, "__qualname__"),
    (48, "__code__"),
    (56, "__defaults__"),
    (64, "__kwdefaults__"),
    (72, "__closure__"),
    (80, "__doc__"),
    (88, "__dict__"),
    (104, "__module__"),
    (112, "__annotations__"),
    (120, "__type_params__"),
];

pub static V3_11: Layout = Layout {
    minor: (3, 11),
    debug_offsets: None,
    runtime: RuntimeLayout {
        interpreters_head: 40,
        interp_next: 0,
        interp_threads_head: 16,
        interp_gc: 648,
        interp_modules: 888,
        interp_sysdict: 904,
        interp_builtins: 912,
        interp_interned: None,
        tstate_next: 8,
        tstate_native_thread_id: 160,
        current_frame: CurrentFrame::ViaCFrame {
            cframe: 56,
            current_frame: 8,
        },
    },
    gc: GC_3_8_PLUS,
    tuple_items: 24,
    managed_dict: ManagedDict::ValuesAndDict,
    dict_values: DictValues::Plain,
    header: HeaderRule::V311,
    str_: STR_3_11,
    long: LongLayout::ObSize,
    heap_type: HeapTypeLayout {
        sizeof_type: 408,
        sizeof_heap_type: 904,
        ht_name: 848,
        ht_slots: 856,
        ht_qualname: 864,
        ht_cached_keys: 872,
        ht_module: 880,
    },
    function_fields: FUNC_FIELDS_3_11,
    code: CodeLayout {
        object_fields: CODE_FIELDS_3_11,
        localsplusnames: 96,
        qualname: 128,
        nlocalsplus: 76,
        stacksize: 68,
        framesize: None,
        co_extra: 176,
    },
    frame: FrameLayout {
        f_frame: 24,
        visited: &[(16, "f_back"), (32, "f_trace")],
        frame_data: 48,
    },
    iframe: InterpFrameLayout {
        func: 0,
        globals: 8,
        builtins: 16,
        locals: 24,
        code: 32,
        frame_obj: 40,
        previous: 48,
        stack_depth: StackDepth::Count(64),
        owner: 69,
        localsplus: 72,
        owner_shim_min: None,
        stack_refs: false,
        specials_words: 9,
    },
    gen: GenLayout {
        visited: &[
            (16, "gi_code"),
            (32, "__name__"),
            (40, "__qualname__"),
            (48, "exception"),
        ],
        code: Some(16),
        origin_or_finalizer: 64,
        frame_state: 75,
        iframe: 80,
        frame_cleared: 4,
        visits_code_when_cleared: false,
    },
    module: MODULE_3_11,
    refcount: RefcountRule::Plain,
    bytearray: ByteArrayRule::Inline,
    dict_first_since_micro: None,
    dict_first: false,
};

pub static V3_12: Layout = Layout {
    minor: (3, 12),
    debug_offsets: None,
    runtime: RuntimeLayout {
        interpreters_head: 40,
        interp_next: 0,
        interp_threads_head: 72,
        interp_gc: 112,
        interp_modules: 944,
        interp_sysdict: 352,
        interp_builtins: 360,
        interp_interned: Some(382_936),
        tstate_next: 8,
        tstate_native_thread_id: 144,
        current_frame: CurrentFrame::ViaCFrame {
            cframe: 56,
            current_frame: 0,
        },
    },
    gc: GC_3_8_PLUS,
    tuple_items: 24,
    managed_dict: ManagedDict::Tagged,
    dict_values: DictValues::Plain,
    header: HeaderRule::V312,
    str_: STR_3_12,
    long: LongLayout::LvTag,
    heap_type: HeapTypeLayout {
        sizeof_type: 416,
        sizeof_heap_type: 920,
        ht_name: 856,
        ht_slots: 864,
        ht_qualname: 872,
        ht_cached_keys: 880,
        ht_module: 888,
    },
    function_fields: FUNC_FIELDS_3_12,
    code: CodeLayout {
        object_fields: CODE_FIELDS_3_11,
        localsplusnames: 96,
        qualname: 128,
        nlocalsplus: 72,
        stacksize: 64,
        framesize: Some(76),
        co_extra: 184,
    },
    frame: FrameLayout {
        f_frame: 24,
        visited: &[(16, "f_back"), (32, "f_trace")],
        frame_data: 48,
    },
    iframe: InterpFrameLayout {
        code: 0,
        previous: 8,
        func: 16,
        globals: 24,
        builtins: 32,
        locals: 40,
        frame_obj: 48,
        stack_depth: StackDepth::Count(64),
        owner: 70,
        localsplus: 72,
        owner_shim_min: Some(3),
        stack_refs: false,
        specials_words: 9,
    },
    gen: GenLayout {
        visited: &[(24, "__name__"), (32, "__qualname__"), (40, "exception")],
        code: None,
        origin_or_finalizer: 56,
        frame_state: 67,
        iframe: 72,
        frame_cleared: 4,
        visits_code_when_cleared: false,
    },
    module: MODULE_3_11,
    refcount: RefcountRule::Plain,
    bytearray: ByteArrayRule::Inline,
    dict_first_since_micro: None,
    dict_first: false,
};

pub static V3_13: Layout = Layout {
    minor: (3, 13),
    debug_offsets: Some(DebugOffsetIndices {
        interpreters_head: 5,
        interp_next: 8,
        interp_threads_head: 9,
        interp_gc: 10,
        interp_modules: 11,
        interp_sysdict: 12,
        interp_builtins: 13,
    }),
    runtime: RuntimeLayout {
        interpreters_head: 632,
        interp_next: 7264,
        interp_threads_head: 7344,
        interp_gc: 7400,
        interp_modules: 7656,
        interp_sysdict: 7640,
        interp_builtins: 7648,
        interp_interned: Some(194_328),
        tstate_next: 8,
        tstate_native_thread_id: 160,
        current_frame: CurrentFrame::Direct(72),
    },
    gc: GcLayout {
        head_size: 16,
        generations: [24, 48, 72],
        generations_alt: Some([20, 44, 68]),
        permanent: 104,
    },
    tuple_items: 24,
    managed_dict: ManagedDict::InlineValues,
    dict_values: DictValues::Prefixed,
    header: HeaderRule::V313,
    str_: STR_3_12,
    long: LongLayout::LvTag,
    heap_type: HeapTypeLayout {
        sizeof_type: 416,
        sizeof_heap_type: 928,
        ht_name: 856,
        ht_slots: 864,
        ht_qualname: 872,
        ht_cached_keys: 880,
        ht_module: 888,
    },
    function_fields: FUNC_FIELDS_3_12,
    code: CodeLayout {
        object_fields: CODE_FIELDS_3_11,
        localsplusnames: 96,
        qualname: 128,
        nlocalsplus: 72,
        stacksize: 64,
        framesize: Some(76),
        co_extra: 192,
    },
    frame: FrameLayout {
        f_frame: 24,
        visited: &[
            (16, "f_back"),
            (32, "f_trace"),
            (48, "f_extra_locals"),
            (56, "f_locals_cache"),
        ],
        frame_data: 64,
    },
    iframe: InterpFrameLayout {
        code: 0,
        previous: 8,
        func: 16,
        globals: 24,
        builtins: 32,
        locals: 40,
        frame_obj: 48,
        stack_depth: StackDepth::Count(64),
        owner: 70,
        localsplus: 72,
        owner_shim_min: Some(3),
        stack_refs: false,
        specials_words: 9,
    },
    gen: GenLayout {
        visited: &[(24, "__name__"), (32, "__qualname__"), (40, "exception")],
        code: None,
        origin_or_finalizer: 56,
        frame_state: 67,
        iframe: 72,
        frame_cleared: 4,
        visits_code_when_cleared: false,
    },
    module: MODULE_3_11,
    refcount: RefcountRule::Plain,
    bytearray: ByteArrayRule::Inline,
    // gh-130327 was backported to 3.13 in March 2026: 3.13.13 is the first release that can
    // have it (3.13.0 measured old, sid's 3.13.18 measured new).
    dict_first_since_micro: Some(13),
    dict_first: false,
};

/// globals, builtins, name, qualname, code, defaults, kwdefaults, closure, doc, dict, module,
/// annotations, annotate, typeparams (3.14+).
const FUNC_FIELDS_3_14: &[(u64, &str)] = &[
    (16, "__globals__"),
    (24, "__builtins__"),
    (32, "__name__"),
    (40, "__qualname__"),
    (48, "__code__"),
    (56, "__defaults__"),
    (64, "__kwdefaults__"),
    (72, "__closure__"),
    (80, "__doc__"),
    (88, "__dict__"),
    (104, "__module__"),
    (112, "__annotations__"),
    (120, "__annotate__"),
    (128, "__type_params__"),
];

const FRAME_3_14: FrameLayout = FrameLayout {
    f_frame: 24,
    visited: &[
        (16, "f_back"),
        (32, "f_trace"),
        (48, "f_extra_locals"),
        (56, "f_locals_cache"),
        (64, "f_overwritten_fast_locals"),
    ],
    frame_data: 72,
};

const IFRAME_3_14: InterpFrameLayout = InterpFrameLayout {
    code: 0,
    previous: 8,
    func: 16,
    globals: 24,
    builtins: 32,
    locals: 40,
    frame_obj: 48,
    stack_depth: StackDepth::Pointer(64),
    owner: 74,
    localsplus: 80,
    owner_shim_min: Some(3),
    stack_refs: true,
    specials_words: 10,
};

const CODE_3_14: CodeLayout = CodeLayout {
    object_fields: CODE_FIELDS_3_11,
    localsplusnames: 96,
    qualname: 128,
    nlocalsplus: 72,
    stacksize: 64,
    framesize: Some(76),
    co_extra: 200,
};

/// Measured on Debian sid's 3.14.10 (headers and the live process); the GC-head offsets are
/// the same in 3.14.0–3.14.4 (incremental collector) per the shared reference, unverified.
pub static V3_14: Layout = Layout {
    minor: (3, 14),
    debug_offsets: Some(DebugOffsetIndices {
        interpreters_head: 5,
        interp_next: 8,
        interp_threads_head: 9,
        interp_gc: 11,
        interp_modules: 12,
        interp_sysdict: 13,
        interp_builtins: 14,
    }),
    runtime: RuntimeLayout {
        interpreters_head: 808,
        interp_next: 7272,
        interp_threads_head: 7344,
        interp_gc: 7408,
        interp_modules: 7688,
        interp_sysdict: 7672,
        interp_builtins: 7680,
        interp_interned: Some(224_624),
        tstate_next: 8,
        tstate_native_thread_id: 160,
        current_frame: CurrentFrame::Direct(72),
    },
    gc: GcLayout {
        head_size: 16,
        generations: [24, 48, 72],
        generations_alt: None,
        permanent: 96,
    },
    tuple_items: 32,
    managed_dict: ManagedDict::InlineValues,
    dict_values: DictValues::Prefixed,
    header: HeaderRule::V313,
    str_: STR_3_12,
    long: LongLayout::LvTag,
    heap_type: HeapTypeLayout {
        sizeof_type: 416,
        sizeof_heap_type: 936,
        ht_name: 856,
        ht_slots: 864,
        ht_qualname: 872,
        ht_cached_keys: 880,
        ht_module: 888,
    },
    function_fields: FUNC_FIELDS_3_14,
    code: CODE_3_14,
    frame: FRAME_3_14,
    iframe: IFRAME_3_14,
    gen: GenLayout {
        visited: &[(24, "__name__"), (32, "__qualname__"), (40, "exception")],
        code: None,
        origin_or_finalizer: 56,
        frame_state: 67,
        iframe: 72,
        frame_cleared: 4,
        visits_code_when_cleared: true,
    },
    module: MODULE_3_11,
    refcount: RefcountRule::SplitWithFlags,
    bytearray: ByteArrayRule::Inline,
    // gh-130327 was merged in March 2026; 3.14.4 is the first 3.14 release after it (3.14.10
    // measured new; earlier ones unverified).
    dict_first_since_micro: Some(4),
    dict_first: false,
};

/// Measured on Debian sid's 3.15.2 (headers and the live process).
pub static V3_15: Layout = Layout {
    minor: (3, 15),
    debug_offsets: V3_14.debug_offsets,
    runtime: RuntimeLayout {
        interpreters_head: 936,
        interp_next: 7264,
        interp_threads_head: 7336,
        interp_gc: 7400,
        interp_modules: 7592,
        interp_sysdict: 7576,
        interp_builtins: 7584,
        interp_interned: Some(224_896),
        tstate_next: 8,
        tstate_native_thread_id: 160,
        current_frame: CurrentFrame::Direct(72),
    },
    gc: GcLayout {
        head_size: 16,
        generations: [8, 32, 56],
        generations_alt: None,
        permanent: 80,
    },
    tuple_items: 32,
    managed_dict: ManagedDict::InlineValues,
    dict_values: DictValues::Prefixed,
    header: HeaderRule::V313,
    str_: STR_3_12,
    long: LongLayout::LvTag,
    heap_type: HeapTypeLayout {
        sizeof_type: 424,
        sizeof_heap_type: 944,
        ht_name: 864,
        ht_slots: 872,
        ht_qualname: 880,
        ht_cached_keys: 888,
        ht_module: 896,
    },
    function_fields: FUNC_FIELDS_3_14,
    code: CODE_3_14,
    frame: FRAME_3_14,
    iframe: IFRAME_3_14,
    gen: GenLayout {
        visited: &[(24, "__name__"), (32, "__qualname__"), (40, "exception")],
        code: None,
        origin_or_finalizer: 56,
        frame_state: 67,
        iframe: 72,
        frame_cleared: 5,
        visits_code_when_cleared: true,
    },
    module: ModuleLayout::Direct {
        state: 24,
        size: 56,
        traverse: 64,
    },
    refcount: RefcountRule::SplitWithFlags,
    bytearray: ByteArrayRule::BytesObject,
    dict_first_since_micro: Some(0),
    dict_first: false,
};
