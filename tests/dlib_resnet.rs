//! The candle port of dlib's ResNet face network (`facevox::model::DlibResNet`) against its
//! references (`tools/convert_dlib_resnet.py` writes every fixture here):
//!
//! - always: a narrow twin of the network (same topology, widths 4-10, seeded random weights)
//!   against the numpy reference (`tools/dlib_resnet.py`, which matches dlib to cosine
//!   0.9999999) on one 150 px picture: every block's shape and sum, the pooled features and
//!   the descriptor;
//! - with `FACEVOX_DLIB_RESNET` (the converted weights, `convert_dlib_resnet.py convert`) and
//!   `FACEVOX_DATA`: dlib's own descriptors of 20 real FairFace faces, cosine at least 0.999.

use std::path::{Path, PathBuf};

use facevox::model::DlibResNet;
use facevox::vision::{load_image, RgbImage};
use serde::Deserialize;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dlib_resnet")
}

#[derive(Deserialize)]
struct TinyExpected {
    descriptor: Vec<f32>,
    pooled: Vec<f32>,
    block_shapes: Vec<[usize; 3]>,
    block_sums: Vec<f64>,
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-3)
}

#[test]
fn narrow_twin_matches_the_numpy_reference() {
    let net = DlibResNet::from_path(fixtures().join("tiny.safetensors")).unwrap();
    let expected: TinyExpected = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("tiny_expected.json")).unwrap(),
    )
    .unwrap();
    let image = load_image(fixtures().join("tiny_input.png")).unwrap();
    let out = net
        .forward(&net.input(std::slice::from_ref(&image)).unwrap())
        .unwrap();
    assert_eq!(out.blocks.len(), expected.block_shapes.len());
    for (i, (b, (shape, sum))) in out
        .blocks
        .iter()
        .zip(expected.block_shapes.iter().zip(&expected.block_sums))
        .enumerate()
    {
        assert_eq!(&b.dims()[1..], shape, "block {i}");
        let ours = b.sum_all().unwrap().to_scalar::<f32>().unwrap() as f64;
        assert!(close(ours, *sum, 1e-4), "block {i}: sum {ours} vs {sum}");
    }
    let pooled: Vec<f32> = out.pooled.squeeze(0).unwrap().to_vec1().unwrap();
    let descriptor: Vec<f32> = out.descriptor.squeeze(0).unwrap().to_vec1().unwrap();
    for (a, b) in pooled.iter().zip(&expected.pooled) {
        assert!(close(*a as f64, *b as f64, 1e-4), "pooled {a} vs {b}");
    }
    assert_eq!(descriptor.len(), expected.descriptor.len());
    for (a, b) in descriptor.iter().zip(&expected.descriptor) {
        assert!(close(*a as f64, *b as f64, 1e-4), "descriptor {a} vs {b}");
    }
    assert_eq!(net.descriptor_size(), 6);
    // The batch path and a picture that needs resizing both run.
    let small = image::imageops::resize(&image, 96, 96, image::imageops::FilterType::Triangle);
    let rows = net.descriptors(&[image, small]).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().flatten().all(|v| v.is_finite()));
    assert!(net.descriptors(&[]).unwrap().is_empty());
}

#[test]
fn bad_weights_and_inputs_give_typed_errors() {
    use facevox::Error;
    assert!(matches!(
        DlibResNet::from_bytes(b""),
        Err(Error::InvalidModelFile(_))
    ));
    assert!(matches!(
        DlibResNet::from_bytes(b"not a safetensors file at all"),
        Err(Error::InvalidModelFile(_))
    ));
    // A file missing one tensor.
    let bytes = std::fs::read(fixtures().join("tiny.safetensors")).unwrap();
    let tensors = candle_core::safetensors::load_buffer(&bytes, &candle_core::Device::Cpu).unwrap();
    let mut fewer = tensors.clone();
    fewer.remove("affine7.beta");
    let path =
        std::env::temp_dir().join(format!("facevox-dlib-{}.safetensors", std::process::id()));
    candle_core::safetensors::save(&fewer, &path).unwrap();
    let err = DlibResNet::from_path(&path).unwrap_err();
    assert!(
        matches!(err, Error::InvalidModelFile(ref m) if m.contains("affine7.beta")),
        "{err}"
    );
    let _ = std::fs::remove_file(&path);
    assert!(matches!(
        DlibResNet::from_path("/nonexistent/dlib.safetensors"),
        Err(Error::Io { .. })
    ));
    let net = DlibResNet::from_bytes(&bytes).unwrap();
    let tiny = candle_core::Tensor::zeros(
        (1, 3, 20, 20),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert!(matches!(net.forward(&tiny), Err(Error::InvalidConfig(_))));
    // The smallest side every layer can take, and one less.
    let zeros = |side: usize| {
        candle_core::Tensor::zeros(
            (1, 3, side, side),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
        .unwrap()
    };
    assert!(net
        .forward(&zeros(facevox::model::dlib_resnet::MIN_INPUT))
        .is_ok());
    assert!(matches!(
        net.forward(&zeros(facevox::model::dlib_resnet::MIN_INPUT - 1)),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        net.descriptors(&[RgbImage::new(0, 0)]),
        Err(Error::ImageTooSmall { .. })
    ));
}

#[derive(Deserialize)]
struct Reference {
    files: Vec<String>,
    descriptors: Vec<Vec<f32>>,
}

/// The 96 px picture enlarged to 150 px by nearest neighbour (source index `floor(i * n / 150)`),
/// as the fixture's script did before asking dlib.
fn nearest_150(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    RgbImage::from_fn(150, 150, |x, y| *img.get_pixel(x * w / 150, y * h / 150))
}

#[test]
fn port_matches_dlib_on_real_faces() {
    let (Some(weights), Some(data)) = (
        std::env::var_os("FACEVOX_DLIB_RESNET"),
        std::env::var_os("FACEVOX_DATA"),
    ) else {
        println!(
            "skipped: set FACEVOX_DLIB_RESNET (tools/convert_dlib_resnet.py convert) and \
             FACEVOX_DATA to compare the port with dlib on 20 real faces"
        );
        return;
    };
    let net = DlibResNet::from_path(weights).unwrap();
    let reference: Reference =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("reference.json")).unwrap())
            .unwrap();
    let root = PathBuf::from(data).join("fairface96");
    let chips: Vec<RgbImage> = reference
        .files
        .iter()
        .map(|f| nearest_150(&load_image(root.join(f)).unwrap()))
        .collect();
    let ours = net.descriptors(&chips).unwrap();
    let (mut min_cos, mut max_diff) = (f64::INFINITY, 0f64);
    for (a, b) in ours.iter().zip(&reference.descriptors) {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        min_cos = min_cos.min(dot / (na * nb));
        for (x, y) in a.iter().zip(b) {
            max_diff = max_diff.max((*x as f64 - *y as f64).abs());
        }
    }
    println!(
        "dlib ResNet port vs dlib on {} FairFace faces: cosine min {min_cos:.9}, max |difference| {max_diff:.3e}",
        ours.len()
    );
    assert_eq!(ours.len(), 20);
    assert!(min_cos >= 0.999, "cosine {min_cos}");
}

#[test]
fn lower_and_trainable_upper_compose_to_the_whole_network() {
    let net = DlibResNet::from_path(fixtures().join("tiny.safetensors")).unwrap();
    let image = load_image(fixtures().join("tiny_input.png")).unwrap();
    let x = net.input(std::slice::from_ref(&image)).unwrap();
    let whole: Vec<f32> = net
        .forward(&x)
        .unwrap()
        .pooled
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for from in [0, 3, 10, 13] {
        let upper = net.upper_trainable(from).unwrap();
        assert_eq!(upper.vars().len(), (14 - from) * 2 * 4);
        let pooled = upper.forward(&net.lower(&x, from).unwrap()).unwrap();
        let split: Vec<f32> = pooled.flatten_all().unwrap().to_vec1().unwrap();
        for (a, b) in split.iter().zip(&whole) {
            assert!(close(*a as f64, *b as f64, 1e-5), "from {from}: {a} vs {b}");
        }
        // Every variable gets a gradient.
        let grads = pooled.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        assert!(upper
            .vars()
            .iter()
            .all(|v| grads.get(v.as_tensor()).is_some()));
    }
}
