//! Splits map text into tokens with their line numbers: words, and the
//! punctuation `{ } [ ]`; `#` starts a comment that runs to the end of line.

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub text: &'a str,
    pub line: usize,
}

pub(super) fn tokenize(src: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    for (n, raw) in src.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let mut start: Option<usize> = None;
        for (i, ch) in line.char_indices() {
            let punct = matches!(ch, '{' | '}' | '[' | ']');
            if ch.is_whitespace() || punct {
                if let Some(s) = start.take() {
                    out.push(Token {
                        text: &line[s..i],
                        line: n + 1,
                    });
                }
                if punct {
                    out.push(Token {
                        text: &line[i..i + 1],
                        line: n + 1,
                    });
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            out.push(Token {
                text: &line[s..],
                line: n + 1,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_punctuation_and_comments() {
        let t = tokenize("host a {\n\tid -1\t\t# comment { here\n  weight_set [[1 2]]\n}");
        let words: Vec<&str> = t.iter().map(|t| t.text).collect();
        assert_eq!(
            words,
            [
                "host",
                "a",
                "{",
                "id",
                "-1",
                "weight_set",
                "[",
                "[",
                "1",
                "2",
                "]",
                "]",
                "}"
            ]
        );
        assert_eq!(t[3].line, 2);
        assert_eq!(t.last().unwrap().line, 4);
    }
}
