//! testfarm's domain, with no I/O: the pipeline file, matrix expansion, timing
//! profiles, sharding, JUnit parsing, and the task types agents and coordinator share.
//! Everything here is a plain function over plain types, tested in microseconds.
//! See ../shared/DESIGN.md, "The house".

pub mod access;
pub mod capacity;
pub mod config;
pub mod image;
pub mod install;
pub mod inventory;
pub mod junit;
pub mod junit_out;
pub mod matrix;
pub mod model;
pub mod phpunit;
pub mod plan;
pub mod profile;
pub mod quarantine;
pub mod report;
pub mod rerun;
pub mod retention;
pub mod runner_cost;
pub mod runtime;
pub mod select;
pub mod service;
pub mod task;
pub mod trace;
pub mod units;
pub mod workspace;
