//! Content keys: a job's key is the SHA-256 of its spec's canonical JSON.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A job's key: the SHA-256 of everything that determines its output, in hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key(pub String);

impl Key {
    /// The key of a value's canonical JSON (serde_json writes maps sorted when they are
    /// `BTreeMap`s, which is what the program uses).
    pub fn of<T: Serialize>(value: &T) -> Key {
        let json = serde_json::to_vec(value).expect("job descriptions serialise");
        Key(sha256_hex(&json))
    }

    /// The first 16 hex digits, for file names and log lines.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(16)]
    }

    /// Whether `text` has a key's shape (64 lower-case hex digits): keys name folders, so
    /// one read from a command line is checked before it is joined to a path.
    pub fn parse(text: &str) -> Option<Key> {
        (text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Key(text.to_string()))
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Key;
    use std::collections::BTreeMap;

    #[test]
    fn keys_depend_on_content_only() {
        let a: BTreeMap<&str, u32> = [("steps", 150), ("batch", 4)].into();
        let b: BTreeMap<&str, u32> = [("batch", 4), ("steps", 150)].into();
        assert_eq!(Key::of(&a), Key::of(&b));
        let c: BTreeMap<&str, u32> = [("batch", 4), ("steps", 151)].into();
        assert_ne!(Key::of(&a), Key::of(&c));
        assert_eq!(Key::of(&a).0.len(), 64);
        assert_eq!(Key::parse(&Key::of(&a).0), Some(Key::of(&a)));
        assert_eq!(Key::parse("../../etc"), None);
    }
}
