//! Edges: how a parent object holds a child, recorded when the walk first reaches the child
//! (breadth first from the roots, so the first parent lies on a shortest path), and turned into
//! the Python-looking path pieces of retainer chains: `.attr`, `['key']`, `[3]`.

use super::hashing::FastMap;
use super::objects::View;
use super::types::TypeInfo;
use crate::memory::Memory;

/// How a parent references a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Edge {
    /// Item `i` of a tuple, list, deque or variable-size C object.
    Index(u32),
    /// A dict's value, under this key (the key object's address).
    DictValue(u64),
    /// A dict's key (the key object's address: the child itself).
    DictKey(u64),
    /// Attribute `i` of an instance whose values live outside a dict (shared keys entry `i`).
    Attribute(u32),
    /// `__slots__` member `k` of the parent's class.
    Slot(u32),
    /// A named field (`__dict__`, `__class__`, `__code__`, `cell_contents`, ...).
    Field(&'static str),
    /// Slot `i` of a frame's locals-plus array (locals, cells, then the value stack).
    Local(u32),
    /// A member of a set or frozenset, or a key of an OrderedDict's node list.
    Element,
    /// Word `i` of a C module's state.
    ModuleState(u32),
    /// Found by scanning a C object at this byte offset.
    Scanned(u32),
}

/// Label ids from here on are not in the table: they stand for the item index
/// `id - INDEX_LABEL_BASE` (`[i]`), so that big lists do not fill the table with `[0]`..`[n]`.
pub const INDEX_LABEL_BASE: u32 = 1 << 31;

/// How dict keys appear in labels (and so in snapshots, `--objects` files and chains).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLabels {
    /// A key is shown only when it reads like a name ([`looks_like_name`]); any other is
    /// masked with its type and length (`['<str len=32>']`, `[<int>]`), so that no secret a
    /// key holds (a session token, an API key) reaches a file.
    Masked,
    /// Every key as it is (`--keys`), cut at 80 characters.
    Literal,
}

/// Builds and deduplicates edge labels.
pub struct Labeler<'a> {
    view: View<'a>,
    keys: KeyLabels,
    strings: Vec<String>,
    ids: FastMap<String, u32>,
    cache: FastMap<LabelKey, u32>,
}

/// What a label's text depends on: the edge, and its context (the key object of a dict item,
/// the type of an attribute's owner, the code object of a local).
pub type LabelKey = (Edge, u64);

/// The label of an item index, which needs no table entry (see [`INDEX_LABEL_BASE`]).
#[inline]
pub fn index_label(edge: Edge) -> Option<u32> {
    match edge {
        Edge::Index(i) if i < INDEX_LABEL_BASE => Some(INDEX_LABEL_BASE + i),
        _ => None,
    }
}

/// The key of the label of `edge` from `parent` (of type `ty`).
#[inline]
pub fn label_key(view: &View, parent: u64, ty: &TypeInfo, edge: Edge) -> LabelKey {
    let context = match edge {
        Edge::DictValue(key) | Edge::DictKey(key) => key,
        Edge::Attribute(_) | Edge::Slot(_) => ty.address,
        Edge::Local(_) => view.frame_code(parent, ty.kind),
        _ => 0,
    };
    (edge, context)
}

impl<'a> Labeler<'a> {
    pub fn new(view: View<'a>, keys: KeyLabels) -> Labeler<'a> {
        let mut l = Labeler {
            view,
            keys,
            strings: Vec::new(),
            ids: FastMap::default(),
            cache: FastMap::default(),
        };
        l.intern(String::new());
        l
    }

    fn intern(&mut self, s: String) -> u32 {
        if let Some(&id) = self.ids.get(&s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.ids.insert(s.clone(), id);
        self.strings.push(s);
        id
    }

    /// The label table (index 0 is the empty label).
    pub fn into_strings(self) -> Vec<String> {
        self.strings
    }

    /// Intern a root's name.
    pub fn root(&mut self, name: &str) -> u32 {
        self.intern(name.to_string())
    }

    /// The label id of `key` (from [`label_key`]; `ty` is the parent's type).
    pub fn id(&mut self, key: LabelKey, ty: &TypeInfo) -> u32 {
        if let Some(&id) = self.cache.get(&key) {
            return id;
        }
        let text = self.text(ty, key.0, key.1);
        let id = self.intern(text);
        self.cache.insert(key, id);
        id
    }

    fn text(&self, ty: &TypeInfo, edge: Edge, context: u64) -> String {
        let v = &self.view;
        match edge {
            Edge::Index(i) => format!("[{i}]"),
            Edge::DictValue(_) => format!("[{}]", key_repr(v, context, self.keys)),
            Edge::DictKey(_) => format!(".<key {}>", key_repr(v, context, self.keys)),
            Edge::Attribute(i) => match v
                .keys_entry_key(ty.cached_keys, i)
                .and_then(|k| v.str_value(k))
            {
                Some(name) => format!(".{name}"),
                None => format!(".<attribute {i}>"),
            },
            Edge::Slot(k) => match ty
                .instance
                .as_ref()
                .and_then(|inst| inst.slots.get(k as usize))
            {
                Some((_, name)) => format!(".{name}"),
                None => format!(".<slot {k}>"),
            },
            Edge::Field(name) => format!(".{name}"),
            Edge::Local(i) => {
                let names = v.word(context + v.layout.code.localsplusnames);
                let nlocals = v.ob_size(names).max(0) as u32;
                if i >= nlocals {
                    format!(".<stack {}>", i - nlocals)
                } else {
                    match v.local_name(context, i) {
                        Some(n) => format!(".f_locals['{n}']"),
                        None => format!(".<local {i}>"),
                    }
                }
            }
            Edge::Element => ".<element>".to_string(),
            Edge::ModuleState(i) => format!(".<module state {i}>"),
            Edge::Scanned(off) => format!(".<field +{off}>"),
        }
    }
}

/// A short Python-like repr of a dict key: `'name'`, `3`, or `<Foo object>` (the type's
/// name, not the address, so that labels repeat and the snapshot's label table stays small);
/// masked as [`KeyLabels::Masked`] says.
pub fn key_repr(view: &View, key: u64, keys: KeyLabels) -> String {
    if let Some(s) = view.str_value(key) {
        if keys == KeyLabels::Masked && !looks_like_name(&s) {
            return format!("'<str len={}>'", s.chars().count());
        }
        let short: String = s.chars().take(80).collect();
        return format!("{short:?}").replace('"', "'");
    }
    if let Some(n) = view.small_int_value(key) {
        return match keys {
            KeyLabels::Masked => "<int>".to_string(),
            KeyLabels::Literal => n.to_string(),
        };
    }
    let name = view
        .image
        .read_c_string(
            view.word(view.ob_type(key) + crate::interpreter::layout::TP_NAME),
            200,
        )
        .unwrap_or_else(|_| "?".into());
    format!("<{name} object>")
}

/// Whether a `str` key reads like a name, and so is shown: an identifier of at most 40
/// characters (an attribute, a keyword argument, a JSON field), or a dotted module name of at
/// most 100 (`sys.modules['matplotlib._pylab_helpers']`), unless it looks like a token: 12
/// characters or more, all hex digits, a third digits, or letters and digits alternating 4
/// times or more (`a3f9c2e1b7d04e5f`, `sk_live_51Hx9Q2e3R4t`).
pub fn looks_like_name(s: &str) -> bool {
    let identifier = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let shaped = if s.contains('.') {
        s.len() <= 100 && s.split('.').all(identifier)
    } else {
        s.len() <= 40 && identifier(s)
    };
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let bytes = s.as_bytes();
    let switches = bytes
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .filter(|w| w[0].is_ascii_alphanumeric() && w[1].is_ascii_alphanumeric())
        .count();
    let token = s.len() >= 12
        && (s.chars().all(|c| c.is_ascii_hexdigit()) || 3 * digits >= s.len() || switches >= 4);
    shaped && !token
}

#[cfg(test)]
mod tests {
    use super::looks_like_name;

    #[test]
    fn names_are_shown_tokens_are_not() {
        for name in [
            "items",
            "__dict__",
            "figs",
            "user_id",
            "matplotlib._pylab_helpers",
            "cp1252",
            "encodings.utf_8",
            "get_v2_items_by_id",
        ] {
            assert!(looks_like_name(name), "{name}");
        }
        for token in [
            "51f0c3ab9e",
            "tok-51f0c3ab9e",
            "a3f9c2e1b7d04e5f",
            "sk_live_51Hx9Q2e3R4t",
            "alice@example.com",
            "hello world",
            "",
            "x".repeat(41).as_str(),
        ] {
            assert!(!looks_like_name(token), "{token}");
        }
    }
}
