//! `farm image build NAME` and `farm image list`: runtime images from Debian packages
//! (deploy/images/NAME.yaml → debootstrap → cache → docker import). The work is
//! `testfarm_agent::image`; this file parses, shows progress and prints the result.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::files::{list_images, load_image};
use indicatif::{ProgressBar, ProgressStyle};
use testfarm_agent::image::{self, BuildEvent, ImageCache};

use crate::args::{ImageArgs, ImageCommand};
use crate::error::CliError;

/// `deploy/images` from the working directory, else from this source tree.
pub fn default_definitions() -> PathBuf {
    let here = PathBuf::from("deploy/images");
    if here.is_dir() {
        return here;
    }
    let tree = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/images");
    if tree.is_dir() {
        tree
    } else {
        here
    }
}

pub async fn image(args: ImageArgs) -> Result<(), CliError> {
    match args.command {
        ImageCommand::Build {
            names,
            definitions,
            image_cache,
            no_docker,
        } => {
            let definitions = definitions.unwrap_or_else(default_definitions);
            let cache = ImageCache::new(image_cache);
            let docker = if no_docker {
                None
            } else {
                match testfarm_agent::executor::docker::connect().await {
                    Ok(d) => Some(d),
                    Err(why) => {
                        eprintln!("farm image: {why}; building the rootfs only (the sandbox's image)");
                        None
                    }
                }
            };
            for name in names {
                build_one(&definitions, &cache, docker.as_ref(), &name).await?;
            }
            Ok(())
        }
        ImageCommand::List {
            definitions,
            image_cache,
        } => {
            let definitions = definitions.unwrap_or_else(default_definitions);
            let cache = ImageCache::new(image_cache);
            let docker = testfarm_agent::executor::docker::connect().await.ok();
            println!(
                "{:<12} {:<18} {:<8} {:<8} definition",
                "image", "hash", "rootfs", "docker"
            );
            for name in list_images(&definitions) {
                let def = load_image(&definitions, &name)?;
                let hash = def.input_hash();
                let built = cache.resolve(&name).filter(|i| i.hash == hash);
                let in_docker = match &docker {
                    Some(d) => d.inspect_image(&def.docker_ref()).await.is_ok(),
                    None => false,
                };
                println!(
                    "{:<12} {:<18} {:<8} {:<8} {}",
                    name,
                    hash,
                    if built.is_some() { "yes" } else { "no" },
                    if docker.is_none() {
                        "-"
                    } else if in_docker {
                        "yes"
                    } else {
                        "no"
                    },
                    image::definition_summary(&def)
                );
            }
            Ok(())
        }
    }
}

async fn build_one(
    definitions: &std::path::Path,
    cache: &ImageCache,
    docker: Option<&bollard::Docker>,
    name: &str,
) -> Result<(), CliError> {
    let def = load_image(definitions, name)?;
    let started = Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix:.bold} {wide_msg}").expect("template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        // Not a terminal (CI logs): plain lines, one per step and per phase.
        ProgressBar::hidden()
    };
    bar.set_prefix(def.docker_ref());
    let progress_bar = bar.clone();
    let mut last_phase = String::new();
    let mut last_import_line: Option<Instant> = None;
    let mut on_event = move |event: BuildEvent| {
        let line = |text: String| {
            if progress_bar.is_hidden() {
                eprintln!("farm image: {text}");
            } else {
                progress_bar.println(format!("  {text}"));
            }
        };
        match event {
            BuildEvent::Step(step) => {
                line(step.clone());
                progress_bar.set_message(step);
            }
            BuildEvent::Skipped(what) => line(format!("up to date: {what}")),
            BuildEvent::Packages {
                phase,
                count,
                line: text,
            } => {
                if phase != last_phase {
                    line(format!("debootstrap: {phase}"));
                    last_phase = phase.clone();
                }
                progress_bar.set_message(format!("{phase} ({count} packages)  {text}"));
            }
            BuildEvent::Imported { bytes, total } => {
                let mib = |b: u64| b as f64 / (1 << 20) as f64;
                let text = if total > 0 {
                    format!("docker import {:.0}/{:.0} MiB", mib(bytes), mib(total))
                } else {
                    format!("docker import {:.0} MiB", mib(bytes))
                };
                let due = last_import_line.is_none_or(|t| t.elapsed() > Duration::from_secs(5));
                if progress_bar.is_hidden() && bytes > 0 && due {
                    line(text.clone());
                    last_import_line = Some(Instant::now());
                }
                progress_bar.set_message(text);
            }
        }
    };
    let result = image::build(&def, cache, docker, &mut on_event).await;
    bar.finish_and_clear();
    let report = result?;
    let mut done = Vec::new();
    match report.debootstrap_secs {
        Some(s) => done.push(format!("rootfs built in {s:.1}s")),
        None => done.push("rootfs cached".to_string()),
    }
    match (report.import_secs, report.in_docker) {
        (Some(s), _) => done.push(format!("imported into docker in {s:.1}s")),
        (None, true) => done.push("docker image cached".to_string()),
        (None, false) => done.push("not in docker (no daemon)".to_string()),
    }
    println!(
        "{}: {} ({:.0} MiB at {}); {:.1}s in all",
        report.docker_ref,
        done.join(", "),
        report.rootfs_bytes as f64 / (1 << 20) as f64,
        report.rootfs.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
