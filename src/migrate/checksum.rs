//! Checksums of migration files, with the algorithm pinned and recorded: upgrading pipewright
//! never invalidates a history table.

use sha2::{Digest, Sha256};

/// How a checksum was computed. Each row of a history table records its algorithm, and rows
/// are always verified with their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// SHA-256 of the file's text after removing a UTF-8 byte-order mark and turning CRLF (and
    /// lone CR) line ends into LF: a checkout on Windows does not change a checksum.
    Sha256LfV1,
}

impl ChecksumAlgorithm {
    /// The algorithm new history rows use.
    pub const CURRENT: Self = Self::Sha256LfV1;

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256LfV1 => "sha256-lf-v1",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        (name == "sha256-lf-v1").then_some(Self::Sha256LfV1)
    }

    /// The text a checksum is computed over.
    pub fn normalize(self, text: &str) -> String {
        match self {
            Self::Sha256LfV1 => {
                let text = text.strip_prefix('\u{feff}').unwrap_or(text);
                text.replace("\r\n", "\n").replace('\r', "\n")
            }
        }
    }

    /// The hexadecimal checksum of `text`.
    pub fn checksum(self, text: &str) -> String {
        let digest = Sha256::digest(self.normalize(text).as_bytes());
        crate::values::hex(&digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_and_bom_do_not_change_the_checksum() {
        let algorithm = ChecksumAlgorithm::CURRENT;
        let unix = algorithm.checksum("create table t (id int);\ninsert into t values (1);\n");
        let windows =
            algorithm.checksum("\u{feff}create table t (id int);\r\ninsert into t values (1);\r\n");
        let old_mac = algorithm.checksum("create table t (id int);\rinsert into t values (1);\r");
        assert_eq!(unix, windows);
        assert_eq!(unix, old_mac);
        assert_ne!(
            unix,
            algorithm.checksum("create table t (id bigint);\ninsert into t values (1);\n")
        );
        assert_eq!(unix.len(), 64);
    }

    #[test]
    fn the_pinned_algorithm_gives_the_same_digest_forever() {
        // If this changes, every history table in the world breaks: never change it, add a
        // new algorithm instead.
        assert_eq!(
            ChecksumAlgorithm::Sha256LfV1.checksum("select 1;\n"),
            "4a45092ccf992ea92250053a80b931b787924ba61648f420555511b84f10ab6c"
        );
        assert_eq!(
            ChecksumAlgorithm::from_name("sha256-lf-v1"),
            Some(ChecksumAlgorithm::Sha256LfV1)
        );
    }
}
