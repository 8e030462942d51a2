//! Which deleted files skip the trash: the noise clients leave behind (Finder's
//! `.DS_Store` and `._` AppleDouble files, Explorer's `Thumbs.db` and `desktop.ini`,
//! Joplin's sync locks) is purged on DELETE instead of filling the trash and the quota.
//!
//! Owns the `trash_skip` patterns and matching them against a file's path. A pattern is
//! a file name with `*` (any run of characters, also none) and `?` (one character),
//! compared ignoring ASCII case because Windows writes both `desktop.ini` and
//! `Desktop.ini`. A pattern may name the folder the file must be in, `folder/name`:
//! Joplin's lock files are only recognisable by their folder.

use std::fmt;
use std::sync::Arc;

/// What `trash_skip` is when the configuration does not say.
pub const DEFAULT_PATTERNS: [&str; 5] = [
    ".DS_Store",
    "._*",
    "Thumbs.db",
    "desktop.ini",
    // Joplin's WebDAV sync writes `<lock type>_<client type>_<client id>.json` into the
    // `locks/` folder of its sync target, type 1 or 2 and client type 1 to 3. A bare
    // `*_*_*.json` would also catch a user's `2024_tax_return.json`; requiring the
    // `locks` folder and one-character types keeps to Joplin's files.
    "locks/?_?_*.json",
];

/// The configured patterns; cheap to clone (every request's filesystem holds them).
#[derive(Clone, PartialEq, Eq)]
pub struct TrashSkip {
    patterns: Arc<[Pattern]>,
}

/// One `trash_skip` entry.
#[derive(Debug, PartialEq, Eq)]
struct Pattern {
    /// The folder the file must be directly in, when the pattern names one.
    folder: Option<Vec<char>>,
    /// The file name.
    name: Vec<char>,
}

/// A `trash_skip` entry that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error(
    "trash_skip entry {pattern:?} {reason}: write a file name such as \"._*\" or a folder \
     and a file name such as \"locks/*.json\""
)]
pub struct InvalidPattern {
    pattern: String,
    reason: &'static str,
}

impl TrashSkip {
    /// Patterns from the configuration; an empty list skips nothing.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, InvalidPattern> {
        let patterns = patterns
            .iter()
            .map(|p| Pattern::parse(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrashSkip {
            patterns: patterns.into(),
        })
    }

    /// [`DEFAULT_PATTERNS`].
    pub fn defaults() -> Self {
        // Invariant: the default patterns are valid (tested below).
        Self::new(&DEFAULT_PATTERNS).expect("the default trash_skip patterns are valid")
    }

    /// Whether the file at `segments` (its path below the tree's root) is noise that a
    /// DELETE purges.
    pub fn matches(&self, segments: &[String]) -> bool {
        let Some((name, folders)) = segments.split_last() else {
            return false;
        };
        let name: Vec<char> = name.chars().collect();
        let folder: Option<Vec<char>> = folders.last().map(|f| f.chars().collect());
        self.patterns.iter().any(|p| {
            let folder_fits = match (&p.folder, &folder) {
                (None, _) => true,
                (Some(want), Some(got)) => glob(want, got),
                (Some(_), None) => false,
            };
            folder_fits && glob(&p.name, &name)
        })
    }
}

impl Default for TrashSkip {
    fn default() -> Self {
        Self::defaults()
    }
}

impl fmt::Debug for TrashSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self
            .patterns
            .iter()
            .map(|p| match &p.folder {
                Some(folder) => format!(
                    "{}/{}",
                    folder.iter().collect::<String>(),
                    p.name.iter().collect::<String>()
                ),
                None => p.name.iter().collect(),
            })
            .collect();
        f.debug_tuple("TrashSkip").field(&shown).finish()
    }
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, InvalidPattern> {
        let invalid = |reason| InvalidPattern {
            pattern: text.to_owned(),
            reason,
        };
        let (folder, name) = match text.split_once('/') {
            None => (None, text),
            Some((_, rest)) if rest.contains('/') => {
                return Err(invalid("names more than one folder"));
            }
            Some(("", _)) => return Err(invalid("has an empty folder")),
            Some((folder, name)) => (Some(folder.chars().collect()), name),
        };
        if name.is_empty() {
            return Err(invalid("has no file name"));
        }
        if name.chars().all(|c| c == '*') {
            return Err(invalid(
                "matches every file, so nothing would reach the trash",
            ));
        }
        Ok(Pattern {
            folder,
            name: name.chars().collect(),
        })
    }
}

/// `*` and `?` matching, ignoring ASCII case. Backtracks only to the latest `*`, so it
/// runs in time proportional to pattern × name however the stars are placed.
fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if *c == '?' || c.eq_ignore_ascii_case(&text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the latest star take one more character.
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('/').map(str::to_owned).collect()
    }

    #[test]
    fn the_defaults_catch_client_noise_and_nothing_else() {
        let skip = TrashSkip::defaults();
        for noise in [
            ".DS_Store",
            "photos/.DS_Store",
            "._report.pdf",
            "docs/._",
            "Thumbs.db",
            "pics/thumbs.db",
            "Desktop.ini",
            "notes/locks/2_2_8d1b0b0c6a2e4f1c9d3e5f7a9b1c3d5e.json",
            "Joplin/locks/1_1_abc.json",
        ] {
            assert!(skip.matches(&path(noise)), "{noise} should skip the trash");
        }
        for kept in [
            "report.pdf",
            "DS_Store",
            "a._b",
            "Thumbs.db.bak",
            "2024_tax_return.json",
            "2_2_abc.json",
            "locks/config.json",
            "locks/12_2_abc.json",
            "locks/2_2_abc.json.txt",
            "other/2_2_abc.json",
        ] {
            assert!(!skip.matches(&path(kept)), "{kept} should go to the trash");
        }
    }

    #[test]
    fn an_empty_list_skips_nothing() {
        let skip = TrashSkip::new::<&str>(&[]).unwrap();
        assert!(!skip.matches(&path(".DS_Store")));
    }

    #[test]
    fn stars_match_any_run_and_questions_one_character() {
        let g = |p: &str, t: &str| {
            glob(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
            )
        };
        assert!(g("*.tmp", "a.tmp") && g("*.tmp", ".tmp") && !g("*.tmp", "a.tmpx"));
        assert!(g("a*b*c", "aXbYbZc") && !g("a*b*c", "aXbYbZ"));
        assert!(g("?_x", "1_x") && !g("?_x", "_x") && !g("?_x", "12_x"));
        // Only ASCII case is ignored.
        assert!(g("~$*", "~$Budget.xlsx") && !g("ÉTÉ*", "été.txt"));
        // Many stars on a long name still answer at once.
        assert!(!g(&"*a".repeat(30), &"a".repeat(29)));
    }

    #[test]
    fn patterns_that_cannot_be_meant_are_refused_with_a_way_out() {
        for bad in ["", "/x", "a/b/c", "locks/", "*", "locks/**"] {
            let err = TrashSkip::new(&[bad]).unwrap_err().to_string();
            assert!(err.contains("write a file name"), "{bad}: {err}");
        }
    }
}
