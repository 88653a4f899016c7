//! The inference layer stands on its own: nothing an application links for analysis
//! (`analyze`, `model`, `models`, the front ends, labels, errors) imports training, datasets or
//! evaluation. The dependency runs `analyze -> model <- train`, never back.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `path` (or `path` itself).
fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(path).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

#[test]
fn inference_modules_do_not_import_training_data_or_evaluation() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let inference = [
        "analyze.rs",
        "analyzer.rs",
        "models.rs",
        "model",
        "audio",
        "vision",
        "labels.rs",
        "error.rs",
    ];
    let forbidden = [
        "crate::train",
        "crate::data",
        "crate::eval",
        "facevox::train",
    ];
    let mut checked = 0;
    for part in inference {
        for file in sources(&src.join(part)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (i, line) in text.lines().enumerate() {
                // Unit tests inside a module may use anything.
                if line.trim_start().starts_with("#[cfg(test)]") {
                    break;
                }
                for f in forbidden {
                    assert!(
                        !line.contains(f),
                        "{}:{}: inference code imports {f}: {line}",
                        file.display(),
                        i + 1
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} files checked");
}
