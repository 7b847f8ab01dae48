//! The small regular-expression subset the schemas' `pattern`s may use, with a matcher and a
//! generator (proptest regex strategies are slow; this is all the schemas need).
//!
//! Supported: `^` and `$` anchors, literal characters, escapes (`\d`, `\w`, `\s` and escaped
//! punctuation), `.`, character classes `[...]` / `[^...]` with ranges, and the quantifiers
//! `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}`. Groups and alternation are refused.

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

/// Longest run a generator produces for an unbounded quantifier (beyond its minimum).
const UNBOUNDED_EXTRA: usize = 6;

/// Most atoms a pattern may have (bounds the matcher's recursion).
const MAX_ATOMS: usize = 48;

#[derive(Debug, Clone)]
enum CharSet {
    /// `.`: any character but a newline.
    Dot,
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
}

impl CharSet {
    fn literal(c: char) -> Self {
        CharSet::Class {
            ranges: vec![(c, c)],
            negated: false,
        }
    }

    fn contains(&self, c: char) -> bool {
        match self {
            CharSet::Dot => c != '\n',
            CharSet::Class { ranges, negated } => {
                ranges.iter().any(|(a, b)| *a <= c && c <= *b) != *negated
            }
        }
    }

    /// The printable ASCII characters of the set (what generators draw from).
    fn printable(&self) -> Vec<char> {
        (0x20u8..0x7f)
            .map(char::from)
            .filter(|c| self.contains(*c))
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Atom {
    set: CharSet,
    min: usize,
    max: Option<usize>,
}

/// A parsed simple pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    anchored_start: bool,
    anchored_end: bool,
    atoms: Vec<Atom>,
}

fn escape_set(c: char) -> CharSet {
    match c {
        'd' => CharSet::Class {
            ranges: vec![('0', '9')],
            negated: false,
        },
        'w' => CharSet::Class {
            ranges: vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')],
            negated: false,
        },
        's' => CharSet::Class {
            ranges: vec![(' ', ' '), ('\t', '\t'), ('\n', '\n'), ('\r', '\r')],
            negated: false,
        },
        other => CharSet::literal(other),
    }
}

/// Why a `pattern` is refused (what is not supported); every message names the pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PatternError {
    /// A group, an alternation or an anchor inside the pattern.
    #[error(
        "pattern {src:?}: `{c}` at {at} is not supported (only anchors, literals, classes and quantifiers)"
    )]
    Unsupported { src: String, c: char, at: usize },
    /// A quantifier with no atom before it.
    #[error("pattern {src:?}: quantifier `{c}` at {at} has nothing to repeat")]
    NothingToRepeat { src: String, c: char, at: usize },
    /// A backslash ends the pattern.
    #[error("pattern {src:?}: trailing backslash")]
    TrailingBackslash { src: String },
    /// An escape other than `\d`, `\w`, `\s` or of a punctuation character.
    #[error("pattern {src:?}: escape \\{e} is not supported")]
    Escape { src: String, e: char },
    /// A set no generated character could come from.
    #[error("pattern {src:?}: a character set matches no printable ASCII character")]
    NoPrintable { src: String },
    /// More than [`MAX_ATOMS`] atoms.
    #[error("pattern {src:?}: more than {} atoms", MAX_ATOMS)]
    TooManyAtoms { src: String },
    /// A `[` never closed.
    #[error("pattern {src:?}: unclosed `[` at {open}")]
    UnclosedClass { src: String, open: usize },
    /// A range ending in an escape.
    #[error("pattern {src:?}: escaped range end is not supported")]
    EscapedRangeEnd { src: String },
    /// A range whose end comes before its start.
    #[error("pattern {src:?}: empty range {lo}-{hi}")]
    EmptyRange { src: String, lo: char, hi: char },
    /// A `{` never closed.
    #[error("pattern {src:?}: unclosed `{{` at {at}")]
    UnclosedQuantifier { src: String, at: usize },
    /// A `{…}` that is no count, or counts nothing generated (max < min, min > 1000).
    #[error("pattern {src:?}: bad quantifier {{{body}}}")]
    BadQuantifier { src: String, body: String },
}

impl Pattern {
    /// Parses `src`; the error says what is not supported.
    pub(crate) fn parse(src: &str) -> Result<Pattern, PatternError> {
        let chars: Vec<char> = src.chars().collect();
        let mut i = 0;
        let mut anchored_start = false;
        let mut anchored_end = false;
        if chars.first() == Some(&'^') {
            anchored_start = true;
            i = 1;
        }
        let mut atoms: Vec<Atom> = Vec::new();
        while i < chars.len() {
            let c = chars[i];
            let set = match c {
                '$' if i == chars.len() - 1 => {
                    anchored_end = true;
                    i += 1;
                    continue;
                }
                '(' | ')' | '|' | '$' | '^' => {
                    return Err(PatternError::Unsupported {
                        src: src.into(),
                        c,
                        at: i,
                    });
                }
                '*' | '+' | '?' | '{' => {
                    return Err(PatternError::NothingToRepeat {
                        src: src.into(),
                        c,
                        at: i,
                    });
                }
                '.' => {
                    i += 1;
                    CharSet::Dot
                }
                '\\' => {
                    let e = *chars
                        .get(i + 1)
                        .ok_or_else(|| PatternError::TrailingBackslash { src: src.into() })?;
                    if e.is_ascii_alphanumeric() && !matches!(e, 'd' | 'w' | 's') {
                        return Err(PatternError::Escape { src: src.into(), e });
                    }
                    i += 2;
                    escape_set(e)
                }
                '[' => {
                    let (set, next) = parse_class(src, &chars, i)?;
                    i = next;
                    set
                }
                other => {
                    i += 1;
                    CharSet::literal(other)
                }
            };
            let (min, max, next) = parse_quantifier(src, &chars, i)?;
            i = next;
            if set.printable().is_empty() {
                return Err(PatternError::NoPrintable { src: src.into() });
            }
            atoms.push(Atom { set, min, max });
            if atoms.len() > MAX_ATOMS {
                return Err(PatternError::TooManyAtoms { src: src.into() });
            }
        }
        Ok(Pattern {
            anchored_start,
            anchored_end,
            atoms,
        })
    }

    /// Does `s` match (search semantics, like ECMA-262 `test`)?
    pub(crate) fn matches(&self, s: &str) -> bool {
        let chars: Vec<char> = s.chars().collect();
        let last_start = if self.anchored_start { 0 } else { chars.len() };
        (0..=last_start).any(|start| self.match_from(&chars, 0, start, 0))
    }

    fn match_from(&self, s: &[char], atom: usize, pos: usize, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        let Some(a) = self.atoms.get(atom) else {
            return !self.anchored_end || pos == s.len();
        };
        let mut n = 0;
        while pos + n < s.len() && a.max.is_none_or(|m| n < m) && a.set.contains(s[pos + n]) {
            n += 1;
        }
        if n < a.min {
            return false;
        }
        (a.min..=n)
            .rev()
            .any(|k| self.match_from(s, atom + 1, pos + k, depth + 1))
    }

    /// Strings that match, short, drawn from printable ASCII.
    pub(crate) fn generate(&self) -> BoxedStrategy<String> {
        let parts: Vec<BoxedStrategy<String>> = self
            .atoms
            .iter()
            .map(|a| {
                let hi = a
                    .max
                    .unwrap_or(a.min + UNBOUNDED_EXTRA)
                    .min(a.min + UNBOUNDED_EXTRA);
                let pool = a.set.printable();
                proptest::collection::vec(proptest::sample::select(pool), a.min..=hi)
                    .prop_map(|v| v.into_iter().collect::<String>())
                    .boxed()
            })
            .collect();
        parts.prop_map(|v| v.concat()).boxed()
    }
}

fn parse_class(src: &str, chars: &[char], open: usize) -> Result<(CharSet, usize), PatternError> {
    let mut i = open + 1;
    let mut negated = false;
    if chars.get(i) == Some(&'^') {
        negated = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(i).ok_or_else(|| PatternError::UnclosedClass {
            src: src.into(),
            open,
        })?;
        if c == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if c == '\\' {
            let e = *chars
                .get(i + 1)
                .ok_or_else(|| PatternError::TrailingBackslash { src: src.into() })?;
            i += 2;
            match escape_set(e) {
                CharSet::Class { ranges: r, .. } if matches!(e, 'd' | 'w' | 's') => {
                    ranges.extend(r);
                    continue;
                }
                _ if e.is_ascii_alphanumeric() => {
                    return Err(PatternError::Escape { src: src.into(), e });
                }
                _ => e,
            }
        } else {
            i += 1;
            c
        };
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|n| *n != ']') {
            let hi = chars[i + 1];
            if hi == '\\' {
                return Err(PatternError::EscapedRangeEnd { src: src.into() });
            }
            if hi < lo {
                return Err(PatternError::EmptyRange {
                    src: src.into(),
                    lo,
                    hi,
                });
            }
            ranges.push((lo, hi));
            i += 2;
        } else {
            ranges.push((lo, lo));
        }
    }
    Ok((CharSet::Class { ranges, negated }, i))
}

fn parse_quantifier(
    src: &str,
    chars: &[char],
    i: usize,
) -> Result<(usize, Option<usize>, usize), PatternError> {
    match chars.get(i) {
        Some('?') => Ok((0, Some(1), i + 1)),
        Some('*') => Ok((0, None, i + 1)),
        Some('+') => Ok((1, None, i + 1)),
        Some('{') => {
            let close = chars[i..]
                .iter()
                .position(|c| *c == '}')
                .map(|p| i + p)
                .ok_or_else(|| PatternError::UnclosedQuantifier {
                    src: src.into(),
                    at: i,
                })?;
            let body: String = chars[i + 1..close].iter().collect();
            let bad = || PatternError::BadQuantifier {
                src: src.into(),
                body: body.clone(),
            };
            let (min, max) = match body.split_once(',') {
                None => {
                    let n = body.trim().parse::<usize>().map_err(|_| bad())?;
                    (n, Some(n))
                }
                Some((a, b)) => {
                    let min = a.trim().parse::<usize>().map_err(|_| bad())?;
                    let max = if b.trim().is_empty() {
                        None
                    } else {
                        Some(b.trim().parse::<usize>().map_err(|_| bad())?)
                    };
                    (min, max)
                }
            };
            if max.is_some_and(|m| m < min) || min > 1000 {
                return Err(bad());
            }
            Ok((min, max, close + 1))
        }
        _ => Ok((1, Some(1), i)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::TestRunner;

    #[test]
    fn matcher_follows_anchors_classes_and_quantifiers() {
        let p = Pattern::parse("^/[A-Za-z0-9_./*-]+$").unwrap();
        assert!(p.matches("/v2/me/chats"));
        assert!(p.matches("/meta/connect"));
        assert!(!p.matches("v2/me"));
        assert!(!p.matches("/"));
        assert!(!p.matches("/a b"));
        let q = Pattern::parse("ab{2,3}c?").unwrap();
        assert!(q.matches("xxabb"));
        assert!(q.matches("abbbc"));
        assert!(!q.matches("abc"));
        let d = Pattern::parse(r"^\d{4}-\d\d$").unwrap();
        assert!(d.matches("2026-11"));
        assert!(!d.matches("2026-1"));
    }

    #[test]
    fn unsupported_constructs_are_refused_with_the_reason() {
        for bad in ["(a|b)", "a|b", "[abc", "*a", r"\p{L}", "a{3,1}"] {
            let err = Pattern::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains(bad) || err.contains(&format!("{bad:?}")),
                "{err}"
            );
        }
    }

    #[test]
    fn generated_strings_match() {
        let mut runner = TestRunner::deterministic();
        for src in ["^/[A-Za-z0-9_./*-]+$", r"^\d{4}-\d\d$", "^[^ ]x?$"] {
            let p = Pattern::parse(src).unwrap();
            let s = p.generate();
            runner
                .run(&s, |v| {
                    prop_assert!(p.matches(&v), "{v:?} does not match {src}");
                    Ok(())
                })
                .unwrap();
        }
    }
}
