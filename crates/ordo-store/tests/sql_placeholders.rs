//! SQLite's write path binds parameters by position (rusqlite), PostgreSQL's by number (sqlx):
//! the shared statements agree on both only when each numbers its placeholders in the order
//! they first appear (`$1`, then `$2`, …; a number may come back later). This reads every
//! string of the shared SQL and checks that rule, so a statement edited out of order fails
//! here instead of binding the wrong values on one database.

use std::fs;
use std::path::Path;

/// The string literals of a Rust source (continuation lines joined, escapes kept as written),
/// each with the line it starts on.
fn literals(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut chars = source.char_indices().peekable();
    let mut line = 1;
    let mut in_comment = false;
    while let Some((_, c)) = chars.next() {
        match c {
            '\n' => {
                line += 1;
                in_comment = false;
            }
            '/' if !in_comment && chars.peek().is_some_and(|(_, n)| *n == '/') => in_comment = true,
            '"' if !in_comment => {
                let start = line;
                let mut text = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            // A line continuation: the newline and the next line's indent go.
                            Some((_, '\n')) => {
                                line += 1;
                                while chars.peek().is_some_and(|(_, n)| n.is_whitespace()) {
                                    if chars.next().is_some_and(|(_, n)| n == '\n') {
                                        line += 1;
                                    }
                                }
                            }
                            Some((_, other)) => {
                                text.push('\\');
                                text.push(other);
                            }
                            None => break,
                        },
                        '"' => break,
                        '\n' => {
                            line += 1;
                            text.push('\n');
                        }
                        other => text.push(other),
                    }
                }
                out.push((start, text));
            }
            _ => {}
        }
    }
    out
}

/// The numbers of a statement's placeholders, in the order they first appear.
fn first_appearances(sql: &str) -> Vec<u32> {
    let bytes = sql.as_bytes();
    let mut seen = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let digits: String = sql[i + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse::<u32>()
                && !seen.contains(&n)
            {
                seen.push(n);
            }
            i += 1 + digits.len();
        } else {
            i += 1;
        }
    }
    seen
}

#[test]
fn every_shared_statement_numbers_its_placeholders_in_order() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shared/sql_store");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = fs::read_to_string(&path).unwrap();
        for (line, sql) in literals(&source) {
            let numbers = first_appearances(&sql);
            if numbers.is_empty() {
                continue;
            }
            checked += 1;
            let expected: Vec<u32> = (1..=numbers.len() as u32).collect();
            if numbers != expected {
                wrong.push(format!(
                    "{}:{line}: placeholders first appear as {numbers:?} in {sql:?}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} statements with placeholders found"
    );
    assert!(
        wrong.is_empty(),
        "statements out of order:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_finds_a_statement_out_of_order() {
    let source = "const A: &str = \"UPDATE t SET a = $2 \\\n    WHERE id = $1\";";
    let found = literals(source);
    assert_eq!(found.len(), 1);
    assert_eq!(first_appearances(&found[0].1), vec![2, 1]);
    assert_eq!(first_appearances("a = $1 AND b > $1 OR c = $2"), vec![1, 2]);
}
