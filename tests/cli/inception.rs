//! The Inception v3 port reproduces pytorch-fid's pool3 features. The weights are the
//! deterministic formula weights that `bench/inception_parity.py` gives PyTorch's network too;
//! the fixture holds only PyTorch's features and one layer as a `.pth`.

use burn::store::{ModuleSnapshot, PytorchStore};
use burn::tensor::Device;
use heist::metrics::extractor::inception_features;
use heist::metrics::features::read_npy;
use heist::metrics::image;
use heist::metrics::inception::{formula, FidInception};

use crate::scratch::Scratch;
use crate::support::project_root;

const IMAGES: [&str; 3] = ["astronaut.png", "chelsea.png", "coffee.png"];

#[test]
fn the_port_reproduces_pytorch_fid_features() {
    let device = Device::flex();
    let scratch = Scratch::new(&[]);
    let weights = scratch.path("formula.safetensors");
    formula::write_safetensors(&weights, &device).expect("write weights");
    let model = FidInception::new(&device)
        .load(&weights)
        .expect("weights load");
    let root = project_root().join("tests/fixtures");
    let images: Vec<_> = IMAGES
        .iter()
        .map(|n| {
            image::load(&root.join("reference/metrics/noise/ref").join(n))
                .unwrap()
                .image
        })
        .collect();
    let ours = inception_features(&model, &images, &device);
    let theirs = read_npy(&root.join("inception/features.npy")).expect("fixture");
    assert_eq!((theirs.rows, theirs.cols), (3, 2048));
    let scale = theirs.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(&theirs.data)
        .map(|(a, b)| (a - b).abs() / scale)
        .fold(0.0f64, f64::max);
    assert!(
        worst <= 1e-4,
        "largest difference is {worst:.2e} of the largest feature"
    );
}

#[test]
fn pytorch_weight_files_load_by_their_keys() {
    for file in ["conv1a.pth", "conv1a_legacy.pth"] {
        load_one_layer(file);
    }
}

/// Loads one layer saved by PyTorch (zip or legacy format) and checks every value.
fn load_one_layer(file: &str) {
    let device = Device::flex();
    let pth = project_root().join("tests/fixtures/inception").join(file);
    // The fixture holds one layer: a full load refuses it and says what is missing.
    let error = FidInception::new(&device)
        .load(&pth)
        .expect_err("incomplete weights");
    assert!(error.contains("lack"), "{error}");
    // A partial load puts PyTorch's values where burn keeps them (BatchNorm weight -> gamma).
    let mut model = FidInception::new(&device);
    let mut store = PytorchStore::from_file(&pth).allow_partial(true);
    model.load_from(&mut store).expect("the .pth parses");
    let snapshots = model.collect(
        None,
        Some(Box::new(burn::store::BurnToPyTorchAdapter)),
        false,
    );
    let mut checked = 0;
    for tensor in snapshots
        .iter()
        .filter(|t| t.name.starts_with("Conv2d_1a_3x3."))
    {
        let shape = tensor.shape.to_vec();
        let bytes = tensor.to_bytes().expect("tensor bytes");
        for (i, chunk) in bytes.chunks_exact(4).enumerate() {
            let v = f32::from_le_bytes(chunk.try_into().unwrap());
            assert_eq!(
                v,
                formula::value(&tensor.name, &shape, i),
                "{}[{i}]",
                tensor.name
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 5, "conv weight and four BatchNorm tensors");
}

#[test]
fn fid_on_folders_uses_inception_when_given_weights() {
    let device = Device::flex();
    let scratch = Scratch::new(&[]);
    let weights = scratch.path("formula.safetensors");
    formula::write_safetensors(&weights, &device).expect("write weights");
    let reference = "tests/fixtures/reference/metrics/noise/ref";
    let test = "tests/fixtures/reference/metrics/blur/test";
    let out = crate::support::Heist::new()
        .args([
            "metric",
            "fid",
            reference,
            test,
            "--json",
            "--inception-weights",
            weights.to_str().unwrap(),
        ])
        .run()
        .status(0);
    let got: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got["name"], "FID");
    assert_eq!(got["dim"], 2048);
    assert_eq!(got["feature_space"]["kind"], "inception_v3");
    assert!(got["value"].as_f64().unwrap() > 0.0);
    assert!(!out.stderr.contains("not FID"));
}
