//! What a PHP file declares and what it refers to, read with tree-sitter's PHP grammar:
//! the raw material of the static dependency map (`depmap.rs`).
//!
//! Names are resolved as PHP resolves them — the file's namespace, its `use` imports,
//! a leading `\` for fully qualified — and lower-cased, since PHP class and function
//! names are case-insensitive. References are taken from the places a class or function
//! is named in code: `new`, `extends`, `implements`, trait `use`, static calls and
//! constants (`Foo::bar()`, `Foo::class`), type hints, `instanceof`, `catch`,
//! attributes and function calls; from string literals that spell a class
//! (`'MediaWiki\Foo'`, as `getMockBuilder( 'Foo' )` and data providers do); and from
//! PHPUnit's `@covers` and `@coversDefaultClass` annotations, kept apart because a test
//! says with them what it is about.

use std::collections::{BTreeMap, BTreeSet};

use tree_sitter::{Node, Parser};

/// A class, interface, trait, enum or function name: fully qualified, no leading `\`,
/// lower case (`mediawiki\extension\cite\cite`).
pub type Symbol = String;

/// How a file names a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefKind {
    /// In code, or in a string literal spelling a class.
    Code,
    /// In a `@covers` / `@coversDefaultClass` annotation or `#[CoversClass]`.
    Covers,
}

/// One PHP file's declarations and references.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileSymbols {
    pub declares: BTreeSet<Symbol>,
    pub refers: BTreeMap<Symbol, RefKind>,
}

/// Reads `source` (a whole PHP file). Never fails: tree-sitter recovers from syntax
/// errors, and whatever it could parse is kept.
pub fn file_symbols(source: &[u8]) -> FileSymbols {
    let mut parser = Parser::new();
    if parser.set_language(&tree_sitter_php::LANGUAGE_PHP.into()).is_err() {
        // Only a grammar built for another tree-sitter ABI fails here: a build fault.
        return FileSymbols::default();
    }
    let Some(tree) = parser.parse(source, None) else {
        return FileSymbols::default();
    };
    let mut reader = Reader {
        source,
        namespace: String::new(),
        imports: BTreeMap::new(),
        out: FileSymbols::default(),
    };
    reader.visit(tree.root_node());
    // A file refers to what it declares trivially; leave those out.
    let declares = &reader.out.declares;
    reader.out.refers.retain(|s, _| !declares.contains(s));
    reader.out
}

struct Reader<'s> {
    source: &'s [u8],
    namespace: String,
    /// Import alias (lower case) → fully qualified name.
    imports: BTreeMap<String, String>,
    out: FileSymbols,
}

impl Reader<'_> {
    fn text(&self, node: Node) -> &str {
        node.utf8_text(self.source).unwrap_or("")
    }

    fn visit(&mut self, node: Node) {
        match node.kind() {
            "namespace_definition" => {
                self.namespace = node
                    .child_by_field_name("name")
                    .map(|n| self.text(n).trim_start_matches('\\').to_string())
                    .unwrap_or_default();
                self.imports.clear();
            }
            "namespace_use_declaration" => {
                self.read_imports(node);
                return;
            }
            "class_declaration"
            | "interface_declaration"
            | "trait_declaration"
            | "enum_declaration"
            | "function_definition" => {
                if let Some(name) = node.child_by_field_name("name") {
                    let fq = qualify(&self.namespace, self.text(name));
                    self.out.declares.insert(fq);
                }
            }
            "comment" => self.read_covers(node),
            "string" | "encapsed_string" => {
                // Read whole: the grammar splits a literal's content at each escape.
                self.read_class_string(node);
                return;
            }
            "name" | "qualified_name" => {
                if let Some(kind) = self.reference_position(node) {
                    let written = self.text(node).to_string();
                    let resolved = self.resolve(&written);
                    let covers = self.inside_covers_attribute(node);
                    self.refer(resolved, if covers { RefKind::Covers } else { RefKind::Code });
                    if kind == Position::Function && !written.contains('\\') {
                        // An unqualified function call falls back to the global function.
                        self.refer(written.to_lowercase(), RefKind::Code);
                    }
                }
                if node.kind() == "qualified_name" {
                    return;
                }
            }
            _ => {}
        }
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            self.visit(child);
        }
    }

    fn refer(&mut self, symbol: Symbol, kind: RefKind) {
        if symbol.is_empty() || is_reserved(&symbol) {
            return;
        }
        let slot = self.out.refers.entry(symbol).or_insert(kind);
        *slot = (*slot).max(kind);
    }

    /// Whether a name node names a class or function to depend on, and which.
    fn reference_position(&self, node: Node) -> Option<Position> {
        let parent = node.parent()?;
        match parent.kind() {
            "named_type"
            | "base_clause"
            | "class_interface_clause"
            | "object_creation_expression"
            | "use_declaration"
            | "attribute"
            | "type_list" => Some(Position::Class),
            "scoped_call_expression" | "scoped_property_access_expression" => {
                (parent.child_by_field_name("scope") == Some(node)).then_some(Position::Class)
            }
            "class_constant_access_expression" => (parent.named_child(0) == Some(node)).then_some(Position::Class),
            "binary_expression" => (parent.child_by_field_name("right") == Some(node)
                && parent
                    .child_by_field_name("operator")
                    .is_some_and(|op| self.text(op) == "instanceof"))
            .then_some(Position::Class),
            "function_call_expression" => {
                (parent.child_by_field_name("function") == Some(node)).then_some(Position::Function)
            }
            _ => None,
        }
    }

    fn inside_covers_attribute(&self, node: Node) -> bool {
        let mut at = node.parent();
        while let Some(n) = at {
            if n.kind() == "attribute" {
                let name = n.named_child(0).map(|c| self.text(c)).unwrap_or("");
                return name.rsplit('\\').next().is_some_and(|s| s.starts_with("Covers"));
            }
            if n.kind() == "attribute_list" || n.kind().ends_with("_declaration") {
                return false;
            }
            at = n.parent();
        }
        false
    }

    fn read_imports(&mut self, node: Node) {
        // `use A\B;`, `use A\B as C;`, `use function A\f;`, `use A\{B, C as D};`
        let mut prefix = String::new();
        let mut cursor = node.walk();
        let children: Vec<Node> = node.children(&mut cursor).collect();
        for child in &children {
            if child.kind() == "namespace_name" {
                prefix = self.text(*child).trim_start_matches('\\').to_string();
            }
        }
        let mut clauses = Vec::new();
        collect_kind(node, "namespace_use_clause", &mut clauses);
        for clause in clauses {
            let mut cursor = clause.walk();
            let parts: Vec<Node> = clause.named_children(&mut cursor).collect();
            let Some(target) = parts
                .iter()
                .find(|n| n.kind() == "qualified_name" || n.kind() == "name")
            else {
                continue;
            };
            let mut full = self.text(*target).trim_start_matches('\\').to_string();
            if !prefix.is_empty() && clause.parent().is_some_and(|p| p.kind() != "namespace_use_declaration") {
                full = format!("{prefix}\\{full}");
            }
            let alias = clause
                .child_by_field_name("alias")
                .map(|a| self.text(a).to_string())
                .or_else(|| {
                    parts
                        .iter()
                        .skip(1)
                        .rfind(|n| n.kind() == "name")
                        .map(|n| self.text(*n).to_string())
                })
                .unwrap_or_else(|| full.rsplit('\\').next().unwrap_or(&full).to_string());
            self.imports.insert(alias.to_lowercase(), full.clone());
            // An import names a dependency even if the code only uses it in a docblock.
            self.refer(full.to_lowercase(), RefKind::Code);
        }
    }

    /// Resolves a name as written at this point of the file.
    fn resolve(&self, written: &str) -> Symbol {
        if let Some(rest) = written.strip_prefix('\\') {
            return rest.to_lowercase();
        }
        if let Some(rest) = written.strip_prefix("namespace\\") {
            return qualify(&self.namespace, rest);
        }
        let (first, rest) = match written.split_once('\\') {
            Some((f, r)) => (f, Some(r)),
            None => (written, None),
        };
        if let Some(full) = self.imports.get(&first.to_lowercase()) {
            return match rest {
                Some(r) => format!("{full}\\{r}").to_lowercase(),
                None => full.to_lowercase(),
            };
        }
        // Relative to the namespace; an unqualified function's global fallback is the
        // caller's (`visit`).
        qualify(&self.namespace, written)
    }

    fn read_covers(&mut self, node: Node) {
        let text = self.text(node).to_string();
        for line in text.lines() {
            let line = line.trim_start_matches(|c: char| c == '/' || c == '*' || c.is_whitespace());
            let Some(rest) = line
                .strip_prefix("@coversDefaultClass")
                .or_else(|| line.strip_prefix("@covers"))
            else {
                continue;
            };
            let Some(target) = rest.split_whitespace().next() else {
                continue;
            };
            if target.starts_with("::") {
                continue; // a method of the default class, named elsewhere
            }
            let class = target.split("::").next().unwrap_or(target).trim_end_matches("()");
            if !class.is_empty() {
                let resolved = self.resolve(class);
                self.refer(resolved, RefKind::Covers);
            }
        }
    }

    fn read_class_string(&mut self, node: Node) {
        let text = self.text(node);
        let Some(text) = text.get(1..text.len().saturating_sub(1)) else {
            return;
        };
        // A string that spells a class: qualified (`MediaWiki\Foo`, with `\\` escapes
        // inside double quotes), or a bare capitalised identifier of older code.
        let name = text.replace("\\\\", "\\");
        let name = name.trim_start_matches('\\');
        let looks_like_class = !name.is_empty()
            && name.len() < 200
            && name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && name
                .split('\\')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if looks_like_class {
            self.refer(name.to_lowercase(), RefKind::Code);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Class,
    Function,
}

fn qualify(namespace: &str, name: &str) -> Symbol {
    if namespace.is_empty() {
        name.to_lowercase()
    } else {
        format!("{namespace}\\{name}").to_lowercase()
    }
}

fn collect_kind<'t>(node: Node<'t>, kind: &str, out: &mut Vec<Node<'t>>) {
    if node.kind() == kind {
        out.push(node);
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect_kind(child, kind, out);
    }
}

/// Names that are keywords or built-in types in a class position, never a file's.
fn is_reserved(symbol: &str) -> bool {
    let last = symbol.rsplit('\\').next().unwrap_or(symbol);
    matches!(
        last,
        "self" | "static" | "parent" | "array" | "callable" | "iterable" | "mixed" | "void" | "null" | "true" | "false"
    ) && !symbol.contains('\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(f: &FileSymbols) -> Vec<(&str, RefKind)> {
        f.refers.iter().map(|(s, k)| (s.as_str(), *k)).collect()
    }

    #[test]
    fn declarations_are_qualified_by_the_namespace() {
        let f = file_symbols(
            b"<?php\nnamespace MediaWiki\\Extension\\Cite;\nclass Cite {}\ninterface Marker {}\ntrait Helps {}\nfunction wfCite() {}\n",
        );
        let got: Vec<&str> = f.declares.iter().map(String::as_str).collect();
        assert_eq!(
            got,
            [
                "mediawiki\\extension\\cite\\cite",
                "mediawiki\\extension\\cite\\helps",
                "mediawiki\\extension\\cite\\marker",
                "mediawiki\\extension\\cite\\wfcite",
            ]
        );
    }

    #[test]
    fn references_resolve_through_imports_and_the_namespace() {
        let src = br#"<?php
namespace MediaWiki\Extension\Cite\Tests;
use MediaWiki\Extension\Cite\Cite;
use MediaWiki\Parser\Parser as P;
use Wikimedia\{TestingAccessWrapper, Assert\Assert as A};
/**
 * @covers \MediaWiki\Extension\Cite\ReferenceStack
 * @covers Cite::run
 */
class CiteTest extends \MediaWikiIntegrationTestCase implements Local\Marker {
    use HelperTrait;
    public function testX( P $parser ): ?Sub\Thing {
        $c = new Cite();
        TestingAccessWrapper::newFromObject( $c );
        $x = Errors::format( A::class );
        if ( $c instanceof \Countable ) {}
        try {} catch ( Ex\Bad | \RuntimeException $e ) {}
        wfMessage( 'cite' );
        $this->getMockBuilder( 'MediaWiki\\Extension\\Cite\\Validator' );
        $this->createMock( 'OldGlobalClass' );
        return self::helper();
    }
}
"#;
        let f = file_symbols(src);
        let ns = "mediawiki\\extension\\cite\\tests\\";
        let expect = [
            ("countable", RefKind::Code),
            ("mediawiki\\extension\\cite\\cite", RefKind::Covers),
            ("mediawiki\\extension\\cite\\referencestack", RefKind::Covers),
            ("mediawiki\\extension\\cite\\validator", RefKind::Code),
            ("mediawiki\\parser\\parser", RefKind::Code),
            ("mediawikiintegrationtestcase", RefKind::Code),
            ("oldglobalclass", RefKind::Code),
            ("runtimeexception", RefKind::Code),
            ("wfmessage", RefKind::Code),
            ("wikimedia\\assert\\assert", RefKind::Code),
            ("wikimedia\\testingaccesswrapper", RefKind::Code),
        ];
        let got = refs(&f);
        for (symbol, kind) in expect {
            assert!(got.contains(&(symbol, kind)), "{symbol} {kind:?} missing from {got:?}");
        }
        for local in [
            "errors",
            "ex\\bad",
            "helpertrait",
            "local\\marker",
            "sub\\thing",
            "wfmessage",
        ] {
            assert!(
                got.iter().any(|(s, _)| *s == format!("{ns}{local}")),
                "{ns}{local} missing from {got:?}"
            );
        }
        assert!(
            !got.iter().any(|(s, _)| s.ends_with("self") || s.ends_with("helper")),
            "{got:?}"
        );
        assert!(f.declares.contains(&format!("{ns}citetest")));
        assert!(!f.refers.contains_key(&format!("{ns}citetest")));
    }

    #[test]
    fn a_broken_file_keeps_what_parses() {
        let f = file_symbols(b"<?php\nclass Good extends Base {}\nfunction ( {{{\n");
        assert!(f.declares.contains("good"));
        assert!(f.refers.contains_key("base"));
    }
}
