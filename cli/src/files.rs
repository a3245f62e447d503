//! The files a user names: the pipeline and the runtime-image definitions, read here
//! and parsed by testfarm-shared (which reads no files), so that a file that cannot
//! be read is named like one that does not parse.

use std::path::Path;

use testfarm_shared::config::{parse_pipeline, ConfigError, Pipeline};
use testfarm_shared::image::{check_image_name, definition_path, image_names, parse_image, unreadable_image, ImageDef};

/// Reads and validates a pipeline file; answers it with its text (which the
/// coordinator validates again).
pub fn load_pipeline(path: &Path) -> Result<(Pipeline, String), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: 0,
        field: "(file)".into(),
        message: format!("cannot read: {e}"),
    })?;
    Ok((parse_pipeline(&text, &file)?, text))
}

/// Reads and validates `dir/NAME.yaml`.
pub fn load_image(dir: &Path, name: &str) -> Result<ImageDef, ConfigError> {
    let path = definition_path(dir, name);
    let file = path.display().to_string();
    check_image_name(name, &file)?;
    let text =
        std::fs::read_to_string(&path).map_err(|e| unreadable_image(name, &file, &e.to_string(), &list_images(dir)))?;
    parse_image(&text, name, &file)
}

/// Image names defined in `dir` (`*.yaml`), sorted.
pub fn list_images(dir: &Path) -> Vec<String> {
    let files = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok());
    image_names(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/images")
    }

    #[test]
    fn every_shipped_definition_parses() {
        let names = list_images(&shipped());
        assert!(
            names.contains(&"base".to_string()) && names.contains(&"php82".to_string()),
            "{names:?}"
        );
        for name in names {
            load_image(&shipped(), &name).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn a_missing_definition_suggests_a_near_name_and_a_missing_pipeline_is_named() {
        let e = load_image(&shipped(), "php8").unwrap_err();
        assert!(e.message.contains("did you mean `php82`"), "{e}");
        let e = load_pipeline(Path::new("/no/such/farm.yaml")).unwrap_err();
        assert_eq!((e.file.as_str(), e.field.as_str()), ("/no/such/farm.yaml", "(file)"));
    }
}
