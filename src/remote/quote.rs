//! POSIX shell quoting, and the matching word splitter for lines this crate renders.

/// Quotes one word for `sh`: left bare when it holds only characters no shell treats
/// specially, otherwise single-quoted with embedded quotes as `'\''`.
pub fn quote(word: &str) -> String {
    let bare = !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c));
    if bare { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// Splits a line into words the way `sh` would for the subset [`quote`] produces: bare words
/// and single-quoted runs, concatenated, separated by spaces. Anything else (double quotes,
/// backslashes outside single quotes, `$`, `;`, `|`, `&`, redirections) is `None`: not a plain
/// command line.
pub fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => current.push(other),
                    }
                }
            }
            '\\' => {
                // Only the `'\''` escape that `quote` writes.
                if chars.next()? != '\'' {
                    return None;
                }
                current.push('\'');
                in_word = true;
            }
            c if c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c) => {
                current.push(c);
                in_word = true;
            }
            _ => return None,
        }
    }
    if in_word {
        words.push(current);
    }
    Some(words)
}
