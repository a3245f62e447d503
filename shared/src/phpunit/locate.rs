//! Which file holds a test class. PHPUnit 9 takes a directory's test classes from
//! files named after them (`FooTest.php` holds `FooTest`), and MediaWiki's own
//! PhpUnitSplitter relies on the same; the namespace tells apart files of one name.
//! The agent walks its checkout for candidate names ([`short_name`]) and keeps the
//! file whose source [`declares`] the class.

/// The class's name without its namespace: the stem of the file that holds it.
pub fn short_name(class: &str) -> &str {
    class.rsplit_once('\\').map_or(class, |(_, short)| short)
}

/// Whether PHP `source` declares `class` (namespaced, as PHPUnit lists it): a
/// `namespace` statement naming the class's namespace (none for a global class)
/// before a `class Short` declaration.
pub fn declares(source: &str, class: &str) -> bool {
    let (namespace, short) = class.rsplit_once('\\').unwrap_or(("", class));
    let mut current = "";
    for line in source.lines() {
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("namespace") {
            if rest.starts_with(|c: char| c.is_whitespace()) {
                current = rest
                    .trim_start()
                    .split(|c: char| c == ';' || c == '{' || c.is_whitespace())
                    .next()
                    .unwrap_or("");
                continue;
            }
        }
        if current == namespace && declares_on_line(line, short) {
            return true;
        }
    }
    false
}

/// `class Short` (after `final`, `abstract`, `readonly`) as a declaration on `line`.
fn declares_on_line(line: &str, short: &str) -> bool {
    if line.starts_with("//") || line.starts_with('*') || line.starts_with('#') {
        return false;
    }
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        match word {
            "final" | "abstract" | "readonly" => continue,
            "class" => {
                let Some(name) = words.next() else { return false };
                let name = name
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("");
                return name == short;
            }
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMESPACED: &str = "<?php\n\nnamespace MediaWiki\\Tests\\Unit;\n\nuse Foo;\n\n/**\n * class FooTest is documented\n */\nfinal class FooTest extends \\MediaWikiUnitTestCase {\n}\n";

    #[test]
    fn a_class_is_found_in_its_namespace_only() {
        assert!(declares(NAMESPACED, "MediaWiki\\Tests\\Unit\\FooTest"));
        assert!(
            !declares(NAMESPACED, "FooTest"),
            "a global class of that name is another class"
        );
        assert!(!declares(NAMESPACED, "MediaWiki\\Tests\\Integration\\FooTest"));
        let global = "<?php\n/**\n * @covers X\n */\nclass ScopeStructureTest extends MediaWikiUnitTestCase {}\n";
        assert!(declares(global, "ScopeStructureTest"));
        assert!(!declares(global, "ScopeStructure"), "a prefix is not the name");
    }

    #[test]
    fn comments_and_other_words_are_not_declarations() {
        assert!(!declares("<?php\n// class FooTest\n", "FooTest"));
        assert!(!declares("<?php\n$x = 'class FooTest';\n", "FooTest"));
        assert!(declares("<?php\nabstract class FooTest{\n", "FooTest"));
        assert!(declares("<?php\nnamespace A\\B {\nclass FooTest\n{\n", "A\\B\\FooTest"));
    }

    #[test]
    fn the_short_name_is_the_file_stem() {
        assert_eq!(short_name("A\\B\\FooTest"), "FooTest");
        assert_eq!(short_name("FooTest"), "FooTest");
    }
}
