use super::*;

const GOOD: &str = r#"
pipeline: demo
matrix:
  php: [8.2, "8.3"]
  db: [sqlite, mysql]
defaults:
  limits:
    memory: 256MiB
    timeout: 2m
stages:
  unit:
    discover: ls tests
    run: ./run-tests.sh
    cells:
      db: [sqlite]
    labels:
      php: "{php}"
    limits:
      cpu: 1
      pids: 64
  slow:
    discover: ls slow
    each: sh slow/$FARM_TEST_ID
    split: class
"#;

#[test]
fn a_good_pipeline_is_typed() {
    let p = parse_pipeline(GOOD, "farm.yaml").unwrap();
    assert_eq!(p.name, "demo");
    assert_eq!(p.project, "demo");
    assert_eq!(
        p.axes[1],
        ("php".to_string(), vec!["8.2".to_string(), "8.3".to_string()])
    );
    let unit = p.stages.iter().find(|s| s.name == "unit").unwrap();
    assert_eq!(
        unit.mode,
        RunMode::Junit {
            command: "./run-tests.sh".into()
        }
    );
    assert_eq!(unit.limits.memory_bytes, Some(256 << 20));
    assert_eq!(unit.limits.cpu, Some(1.0));
    assert_eq!(unit.limits.timeout, Duration::from_secs(120));
    assert_eq!(unit.cells["db"], vec!["sqlite"]);
    let slow = p.stages.iter().find(|s| s.name == "slow").unwrap();
    assert_eq!(slow.split, Split::Class);
    assert!(matches!(slow.mode, RunMode::Each { .. }));
    assert_eq!(slow.default_estimate, DEFAULT_ESTIMATE);
}

fn error_of(text: &str) -> ConfigError {
    parse_pipeline(text, "farm.yaml").unwrap_err()
}

#[test]
fn unknown_key_names_line_field_and_hint() {
    let text = GOOD.replace("    limits:\n      cpu", "    limts:\n      cpu");
    let e = error_of(&text);
    assert_eq!(e.file, "farm.yaml");
    assert_eq!(e.line, 18, "{e}");
    assert!(e.field.contains("stages.unit"), "{e}");
    assert!(e.message.contains("unknown field `limts`"), "{e}");
    assert!(e.message.contains("did you mean `limits`"), "{e}");
}

#[test]
fn bad_units_are_reported_where_they_are() {
    let e = error_of(&GOOD.replace("timeout: 2m", "timeout: 2 fortnights"));
    assert_eq!(e.line, 9, "{e}");
    assert_eq!(e.field, "defaults.limits.timeout", "{e}");
    assert!(e.message.contains("unknown unit"), "{e}");
    let e = error_of(&GOOD.replace("memory: 256MiB", "memory: lots"));
    assert_eq!(e.line, 8, "{e}");
}

#[test]
fn missing_commands_are_never_guessed() {
    let e = error_of(&GOOD.replace("    discover: ls tests\n", ""));
    assert_eq!(e.field, "stages.unit");
    assert_eq!(e.line, 11, "{e}");
    assert!(e.message.contains("missing `discover`"), "{e}");
    let e = error_of(&GOOD.replace("    run: ./run-tests.sh\n", ""));
    assert!(e.message.contains("missing `run` or `each`"), "{e}");
    let e = error_of(&GOOD.replace("    run: ./run-tests.sh\n", "    run: a\n    each: b\n"));
    assert!(e.message.contains("both `run` and `each`"), "{e}");
}

#[test]
fn cells_must_name_real_axes_and_values() {
    let e = error_of(&GOOD.replace("      db: [sqlite]", "      db: [oracle]"));
    assert_eq!(e.field, "stages.unit.cells");
    assert_eq!(e.line, 14, "{e}");
    assert!(e.message.contains("no value `oracle`"), "{e}");
    let e = error_of(&GOOD.replace("      db: [sqlite]", "      os: [linux]"));
    assert!(e.message.contains("unknown axis `os`"), "{e}");
}

#[test]
fn bad_limits_are_rejected() {
    let e = error_of(&GOOD.replace("cpu: 1", "cpu: -2"));
    assert_eq!(e.field, "stages.unit.limits.cpu");
    assert_eq!(e.line, 19, "{e}");
    let e = error_of(&GOOD.replace("pids: 64", "pids: 0"));
    assert_eq!(e.field, "stages.unit.limits.pids");
}

#[test]
fn label_placeholders_must_be_axes() {
    let e = error_of(&GOOD.replace("\"{php}\"", "\"{python}\""));
    assert!(e.message.contains("`{python}`"), "{e}");
}

#[test]
fn syntax_errors_carry_a_line() {
    let e = error_of("pipeline: x\nstages:\n  a: [unclosed\n");
    assert!(e.line >= 3, "{e}");
}

#[test]
fn locate_follows_indentation() {
    let text = "a:\n  b:\n    c: 1\nb:\n  c: 2\n";
    assert_eq!(locate(text, &["a", "b", "c"]), 3);
    assert_eq!(locate(text, &["b", "c"]), 5);
    assert_eq!(locate(text, &["a", "x"]), 1);
}

const RUNTIMES: &str = r#"
pipeline: rt
defaults:
  image: base
stages:
  host:
    discover: ls
    each: "true"
    image: ~
  boxed:
    discover: ls
    each: "true"
  container:
    discover: ls
    run: ./run
    executor: docker
    image: php82
    network: bridge
"#;

#[test]
fn executor_image_and_network_are_typed() {
    let p = parse_pipeline(RUNTIMES, "farm.yaml").unwrap();
    let stage = |n: &str| p.stages.iter().find(|s| s.name == n).unwrap().runtime.clone();
    // `image: ~` is "not set", so the default applies.
    assert_eq!(stage("host").image.as_deref(), Some("base"));
    assert_eq!(stage("boxed").executor, ExecutorKind::Sandbox);
    assert!(
        stage("boxed").network_off(),
        "an image sandbox has no network by default"
    );
    let c = stage("container");
    assert_eq!(
        (c.executor, c.image.as_deref(), c.network),
        (ExecutorKind::Docker, Some("php82"), Some(Network::Bridge))
    );
    assert!(!c.network_off());
    let plain = parse_pipeline(GOOD, "f").unwrap();
    let unit = &plain.stages[1].runtime;
    assert_eq!(unit, &Runtime::default());
    assert!(
        unit.confined() && unit.network_off(),
        "the host sandbox isolates by default"
    );
}

#[test]
fn runtime_errors_name_the_line() {
    let e = error_of(&RUNTIMES.replace("executor: docker", "executor: dokcer"));
    assert_eq!((e.line, e.field.as_str()), (16, "stages.container.executor"), "{e}");
    assert!(e.message.contains("unknown executor `dokcer`"), "{e}");
    assert!(e.message.contains("did you mean `docker`"), "{e}");

    let text = RUNTIMES
        .replace("defaults:\n  image: base\n", "")
        .replace("    image: php82\n", "");
    let e = error_of(&text);
    assert_eq!(e.field, "stages.container.executor", "{e}");
    assert!(e.message.contains("needs an `image`"), "{e}");
    assert_eq!(e.line, 14, "{e}");

    let e = error_of(&RUNTIMES.replace("network: bridge", "network: host"));
    assert_eq!((e.line, e.field.as_str()), (18, "stages.container.network"), "{e}");
    let e = error_of(&RUNTIMES.replace("image: base", "image: PHP"));
    assert_eq!((e.line, e.field.as_str()), (4, "defaults.image"), "{e}");
}

#[test]
fn isolation_is_the_default_and_none_is_the_opt_out() {
    let text = "pipeline: iso\nstages:\n  strict:\n    discover: ls\n    each: \"true\"\n  open:\n    discover: ls\n    each: \"true\"\n    isolation: none\n";
    let p = parse_pipeline(text, "farm.yaml").unwrap();
    let stage = |n: &str| &p.stages.iter().find(|s| s.name == n).unwrap().runtime;
    let (strict, open) = (stage("strict"), stage("open"));
    assert_eq!(strict.isolation, Isolation::Sandbox);
    assert!(strict.confined() && strict.network_off());
    assert_eq!(open.isolation, Isolation::None);
    assert!(
        !open.confined() && !open.network_off(),
        "the opt-out keeps the host's network"
    );

    let e = error_of(&text.replace("isolation: none", "isolation: nnone"));
    assert_eq!((e.line, e.field.as_str()), (9, "stages.open.isolation"), "{e}");
    assert!(e.message.contains("did you mean `none`"), "{e}");
    let e = error_of(&text.replace("isolation: none", "isolation: none\n    image: base"));
    assert_eq!((e.line, e.field.as_str()), (9, "stages.open.isolation"), "{e}");
    assert!(e.message.contains("always isolates"), "{e}");
}

const MW: &str = r#"
pipeline: mw
repos:
  core:
    kind: core
  Echo: {}
  Thanks:
    requires: [Echo]
dependencies:
  Thanks: [core]
stages:
  phpunit-unit:
    phpunit:
      command: tools/phpunit.sh
      testsuite: unit
      exclude_group: [Database]
"#;

#[test]
fn repos_and_phpunit_stages_are_typed_with_mediawiki_defaults() {
    let p = parse_pipeline(MW, "farm.yaml").unwrap();
    let names: Vec<&str> = p.repos.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["core", "Echo", "Thanks"], "core first");
    assert_eq!(p.repos[1].path, "extensions/Echo");
    assert_eq!(p.repos[1].test_namespace, "MediaWiki\\Extension\\Echo\\");
    assert_eq!(p.repos[2].requires, ["Echo", "core"]);
    let stage = &p.stages[0];
    assert_eq!(stage.split, Split::Auto);
    let RunMode::Phpunit(php) = &stage.mode else {
        panic!("{:?}", stage.mode)
    };
    assert_eq!(php.testsuite.as_deref(), Some("unit"));
    assert!(php.workers, "shards run in PHPUnit workers unless the stage says not");
    assert!(stage.discover.contains("--list-tests-xml"), "{}", stage.discover);
    let p = parse_pipeline(
        &MW.replace("testsuite: unit", "testsuite: unit\n      workers: false"),
        "farm.yaml",
    )
    .unwrap();
    let RunMode::Phpunit(php) = &p.stages[0].mode else {
        panic!("{:?}", p.stages[0].mode)
    };
    assert!(!php.workers, "workers: false");
    let e = error_of(&MW.replace("testsuite: unit", "testsuite: unit\n      workers: sometimes"));
    assert!(e.message.contains("workers") || e.field.contains("workers"), "{e}");
}

#[test]
fn bad_repos_say_where() {
    let e = error_of(&MW.replace("requires: [Echo]", "requires: [Flow]"));
    assert_eq!(e.field, "repos");
    assert!(e.message.contains("`Thanks` requires `Flow`"), "{e}");
    let e = error_of(&MW.replace("requires: [Echo]", "requires: [Echo]\n  Echo2:\n    requires: [Echo2]"));
    assert!(e.message.contains("cycle: Echo2 → Echo2"), "{e}");
    let e = error_of(&MW.replace("kind: core", "kind: library"));
    assert_eq!((e.field.as_str(), e.line), ("repos.core.kind", 5), "{e}");
    let e = error_of(&MW.replace("    phpunit:\n", "    discover: ls\n    phpunit:\n"));
    assert!(e.message.contains("makes its own"), "{e}");
}

const WITH_SERVICES: &str = r#"
pipeline: mw
matrix:
  php: ["8.2"]
  db: [sqlite, mysql, postgres]
defaults:
  tools: [php]
stages:
  database:
    discover: ls
    run: ./t.sh
    services: ["{db}"]
    install: php maintenance/install.php
    tools: [phpunit, php]
"#;

#[test]
fn services_fill_per_cell_and_become_agent_labels() {
    let p = parse_pipeline(WITH_SERVICES, "farm.yaml").unwrap();
    let stage = &p.stages[0];
    assert_eq!(stage.install.as_deref(), Some("php maintenance/install.php"));
    assert_eq!(stage.tools, ["php", "phpunit"], "defaults first, no duplicates");
    let jobs = crate::matrix::expand(&p, &[]).unwrap();
    let by_db = |db: &str| jobs.iter().find(|j| j.cell["db"] == db).unwrap();
    assert_eq!(
        stage.services_in(&by_db("mysql").cell),
        [crate::service::Service::Mysql]
    );
    assert_eq!(
        by_db("mysql").labels.get("service.mysql").map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        by_db("postgres").labels.get("service.postgres").map(String::as_str),
        Some("yes")
    );
    assert!(
        !by_db("sqlite").labels.keys().any(|k| k.starts_with("service.")),
        "sqlite needs no server"
    );
}

#[test]
fn a_service_that_no_agent_starts_is_named_with_its_cell() {
    let text = WITH_SERVICES.replace("postgres]", "oracle]");
    let e = error_of(&text);
    assert_eq!(e.field, "stages.database.services");
    assert_eq!(e.line, typo_line(&text, "services:"));
    assert!(e.message.contains("`oracle`"), "{e}");
    assert!(e.message.contains("cell db=oracle"), "{e}");
    // Narrowing the stage's cells away from the value makes it fine.
    let narrowed = text.replace("    services:", "    cells: { db: [sqlite, mysql] }\n    services:");
    parse_pipeline(&narrowed, "farm.yaml").unwrap();
    let e = error_of(&WITH_SERVICES.replace("\"{db}\"", "\"{dbs}\""));
    assert!(e.message.contains("not a matrix axis"), "{e}");
    let e = error_of(&WITH_SERVICES.replace("[\"{db}\"]", "[\"{db}\", postgres]"));
    assert!(e.message.contains("one database"), "{e}");
}

#[test]
fn tools_are_plain_program_names_and_install_is_not_empty() {
    let e = error_of(&WITH_SERVICES.replace("[phpunit, php]", "[\"vendor/bin/phpunit --x\"]"));
    assert_eq!(e.field, "stages.database.tools");
    assert!(e.message.contains("not a program name"), "{e}");
    let e = error_of(&WITH_SERVICES.replace("php maintenance/install.php", "\"  \""));
    assert_eq!(e.field, "stages.database.install");
}

/// The 1-based line of the first line containing `needle`.
fn typo_line(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_repo_path_that_leaves_the_project_is_refused_with_its_line() {
    let text = "pipeline: p\nrepos:\n  core:\n    kind: core\n  Evil:\n    path: ../../etc\nstages:\n  unit:\n    discover: ls\n    each: \"true\"\n";
    let e = parse_pipeline(text, "farm.yaml").unwrap_err();
    assert_eq!(e.field, "repos.Evil.path", "{e}");
    assert_eq!(e.line, 6, "{e}");
    assert!(e.message.contains("`..`"), "{e}");
    let abs = text.replace("../../etc", "/etc");
    assert!(parse_pipeline(&abs, "farm.yaml")
        .unwrap_err()
        .message
        .contains("absolute"));
}
