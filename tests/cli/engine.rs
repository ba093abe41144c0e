//! The engine through `heist train` and `heist query` on `tests/fixtures/tiny.exp` (the three
//! settings at toy scale): training is a function of the seed, surrogates learn from answers
//! that cross the black-box boundary, and external victims are reached by command and HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;

use image::RgbImage;

use crate::scratch::Scratch;
use crate::support::{Heist, Outcome};

const TINY: &str = "tests/fixtures/tiny.exp";

fn train(args: &[&str], threads: &str) -> String {
    Heist::new()
        .args(["train", TINY, "--quiet"])
        .args(args.iter().copied())
        .env("RAYON_NUM_THREADS", threads)
        .run()
        .status(0)
        .stdout
}

#[test]
fn training_is_bitwise_reproducible_across_runs_and_thread_counts() {
    let scratch = Scratch::new(&[]);
    for victim in ["monet", "anime_filter", "upscaler"] {
        let weights: Vec<Vec<u8>> = ["1", "2", "2"]
            .iter()
            .enumerate()
            .map(|(i, threads)| {
                let out = scratch.path(&format!("{victim}-{i}.safetensors"));
                train(
                    &["--victim", victim, "--out", out.to_str().unwrap()],
                    threads,
                );
                std::fs::read(out).unwrap()
            })
            .collect();
        assert!(weights[0].len() > 1000, "{victim}: weights written");
        assert_eq!(weights[0], weights[1], "{victim}: 1 vs 2 threads");
        assert_eq!(weights[1], weights[2], "{victim}: rerun");
    }
}

#[test]
fn a_surrogate_learns_from_the_victims_answers_and_is_compared_with_it() {
    let scratch = Scratch::new(&[]);
    let victim = scratch.path("monet.safetensors");
    let surrogate = scratch.path("surrogate.safetensors");
    let grid = scratch.path("grid.png");
    train(
        &["--victim", "monet", "--out", victim.to_str().unwrap()],
        "2",
    );
    let out = train(
        &[
            "--attack",
            "steal_monet",
            "--point",
            "3",
            "--victim-weights",
            victim.to_str().unwrap(),
            "--out",
            surrogate.to_str().unwrap(),
            "--grid",
            grid.to_str().unwrap(),
            "--compare",
            "photos",
        ],
        "2",
    );
    // Point 3 is 100 % of 8 images plus their flipped copies: 16 queries at $0.01.
    assert!(out.contains("16 queries, $0.16"), "{out}");
    assert!(
        out.contains("surrogate vs victim on `photos` (8 images): PSNR"),
        "{out}"
    );
    assert!(surrogate.exists());
    let grid = image::open(grid).unwrap();
    // 8 rows x 3 columns of 32 px cells with 2 px gaps.
    assert_eq!((grid.width(), grid.height()), (3 * 34 + 2, 8 * 34 + 2));
}

#[test]
fn weights_of_another_architecture_or_a_corrupt_file_are_refused_by_name() {
    let scratch = Scratch::new(&[]);
    let sr = scratch.path("upscaler.safetensors");
    train(
        &["--victim", "upscaler", "--out", sr.to_str().unwrap()],
        "2",
    );
    let query = |weights: &Path| {
        Heist::new()
            .args([
                "query", TINY, "--quiet", "--victim", "monet", "--data", "photos", "--out",
            ])
            .args([
                scratch.path("answers").to_str().unwrap(),
                "--weights",
                weights.to_str().unwrap(),
            ])
            .run()
            .status(1)
    };
    query(&sr)
        .stderr_has("heist::weights")
        .stderr_has("the weights lack `")
        .stderr_has("not of this architecture");
    let bytes = std::fs::read(&sr).unwrap();
    let corrupt = scratch.write("corrupt.safetensors", &bytes[..bytes.len() / 2]);
    query(&corrupt).stderr_has("truncated or corrupt");
    query(&scratch.path("absent.safetensors")).stderr_has("cannot read");
}

/// An experiment whose victim is external: `{spec}` goes inside `external { ... }`.
fn external_experiment(scratch: &Scratch, spec: &str) -> String {
    let text = format!(
        "experiment ext {{ seed = 0 }}\n\
         dataset photos = synthetic {{ domain = photo; distribution = attacker; count = 3; size = 32px; seed = 1 }}\n\
         victim service = external {{ {spec}; task = style_transfer; image_size = 32px }}\n"
    );
    scratch
        .write("ext.exp", text.as_bytes())
        .to_str()
        .unwrap()
        .to_string()
}

/// `heist query` of the external victim `service` on the three photos of
/// [`external_experiment`]; whether it succeeds or fails, it leaves nothing in the temp folder
/// (the images it exchanged with a command victim included).
fn query_service(exp: &str, out: &Path) -> Outcome {
    let tmp = out.with_extension("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let outcome = Heist::new()
        .args([
            "query", exp, "--victim", "service", "--data", "photos", "--out",
        ])
        .args([out.to_str().unwrap()])
        .env("TMPDIR", tmp.to_str().unwrap())
        .run();
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(
        left.is_empty(),
        "heist query left {left:?} in the temp folder"
    );
    outcome
}

fn answers(dir: &Path) -> Vec<RgbImage> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| image::open(p).unwrap().to_rgb8())
        .collect()
}

#[test]
fn a_command_victim_answers_through_folders_and_its_failures_name_the_query() {
    let scratch = Scratch::new(&[]);
    let exp = external_experiment(
        &scratch,
        "command = \"cp {input}/* {output}/\"; timeout = 10s",
    );
    let out = scratch.path("answers");
    query_service(&exp, &out)
        .status(0)
        .stdout_has("3 answers of command `cp {input}/* {output}/`");
    assert_eq!(answers(&out).len(), 3);

    let exp = external_experiment(
        &scratch,
        "command = \"echo broken >&2; exit 3\"; retries = 1",
    );
    query_service(&exp, &out)
        .status(1)
        .stderr_has("heist::query")
        .stderr_has("query 0: `echo broken >&2; exit 3` exited with")
        .stderr_has("3: broken (after 2 attempts)");

    let exp = external_experiment(&scratch, "command = \"sleep 5\"; timeout = 200ms");
    query_service(&exp, &out)
        .status(1)
        .stderr_has("did not finish within 0.2 s");

    // A timeout stops the victim's whole process tree, not only its shell.
    let marker = scratch.path("still-running");
    let exp = external_experiment(
        &scratch,
        &format!(
            "command = \"(sleep 2; touch {}) & sleep 5\"; timeout = 300ms; retries = 0",
            marker.display()
        ),
    );
    query_service(&exp, &out)
        .status(1)
        .stderr_has("did not finish");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(
        !marker.exists(),
        "a child of the victim outlived its timeout"
    );

    // Much more than a pipe's worth of stderr neither stalls the victim nor hides its error.
    let exp = external_experiment(
        &scratch,
        "command = \"yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 300000 >&2; echo out of memory >&2; exit 2\"; timeout = 20s; retries = 0",
    );
    query_service(&exp, &out)
        .status(1)
        .stderr_has("exited with exit status: 2: out of memory");
}

/// A one-thread HTTP server on 127.0.0.1 answering each POSTed PNG with its negative, or with
/// `500` for the first `failures` requests. Returns the URL.
fn serve(requests: usize, failures: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/translate", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().take(requests).enumerate() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let (status, payload) = if i < failures {
                ("500 Internal Server Error", b"model overloaded".to_vec())
            } else {
                let mut image = image::load_from_memory(&body).unwrap().to_rgb8();
                image.pixels_mut().for_each(|p| p.0 = p.0.map(|v| 255 - v));
                let mut png = std::io::Cursor::new(Vec::new());
                image.write_to(&mut png, image::ImageFormat::Png).unwrap();
                ("200 OK", png.into_inner())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&payload).unwrap();
        }
    });
    url
}

#[test]
fn an_http_victim_is_queried_on_a_local_server_with_retries() {
    let scratch = Scratch::new(&[]);
    // One failure, then three answers: the retry hides the failure.
    let url = serve(4, 1);
    let exp = external_experiment(
        &scratch,
        &format!("url = \"{url}\"; retries = 2; timeout = 10s"),
    );
    let out = scratch.path("answers");
    query_service(&exp, &out)
        .status(0)
        .stdout_has("3 answers of HTTP endpoint");
    let got = answers(&out);
    assert_eq!(got.len(), 3);
    // The server negates: answers and the photos a command victim echoes add up to white.
    let echoed = scratch.path("echoed");
    let exp_echo = external_experiment(&scratch, "command = \"cp {input}/* {output}/\"");
    query_service(&exp_echo, &echoed).status(0);
    let photos = answers(&echoed);
    for (answer, photo) in got.iter().zip(&photos) {
        assert!(answer
            .pixels()
            .zip(photo.pixels())
            .all(|(a, p)| (0..3).all(|c| a[c] as u16 + p[c] as u16 == 255)));
    }

    // Always failing: the error names the query, the status and the attempts.
    let url = serve(2, 2);
    let exp = external_experiment(
        &scratch,
        &format!("url = \"{url}\"; retries = 1; timeout = 10s"),
    );
    query_service(&exp, &out)
        .status(1)
        .stderr_has("query 0: POST")
        .stderr_has("500 Internal Server Error")
        .stderr_has("(after 2 attempts)");

    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let exp = external_experiment(
        &scratch,
        &format!("url = \"http://{closed}/\"; retries = 0; timeout = 2s"),
    );
    query_service(&exp, &out)
        .status(1)
        .stderr_has("query 0: POST");
}

#[test]
fn a_victim_released_as_junyanz_pytorch_weights_answers_queries() {
    let scratch = Scratch::new(&[]);
    let weights = crate::support::project_root().join("tests/fixtures/junyanz/resnet.pth");
    let text = format!(
        "experiment released {{ seed = 0 }}\n\
         dataset photos = synthetic {{ domain = photo; distribution = attacker; count = 2; size = 32px; seed = 1 }}\n\
         victim monet = cyclegan {{ weights = \"{}\"; image_size = 32px; generator {{ filters = 4; residual_blocks = 2 }} }}\n",
        weights.display()
    );
    let exp = scratch.write("released.exp", text.as_bytes());
    let out = scratch.path("answers");
    Heist::new()
        .args([
            "query",
            exp.to_str().unwrap(),
            "--victim",
            "monet",
            "--data",
            "photos",
            "--out",
            out.to_str().unwrap(),
        ])
        .run()
        .status(0)
        .stdout_has("2 answers of victim `monet`");
    assert_eq!(answers(&out).len(), 2);
}

#[test]
fn a_backend_left_out_of_the_build_is_refused_with_how_to_get_it() {
    if cfg!(feature = "tch") {
        return;
    }
    Heist::new()
        .args([
            "train",
            TINY,
            "--victim",
            "upscaler",
            "--backend",
            "tch",
            "--out",
            "/nonexistent/w.safetensors",
        ])
        .run()
        .status(1)
        .stderr_has("heist::backend")
        .stderr_has("built without the `tch` backend")
        .stderr_has("(README: Backends)");
}

#[test]
fn a_missing_dataset_folder_stops_training_with_its_path() {
    let scratch = Scratch::new(&[]);
    let text = "experiment missing { seed = 0 }\n\
        dataset photos = folder { path = \"no/such/folder\"; layout = plain }\n\
        dataset paintings = synthetic { domain = painting; distribution = victim; count = 4; size = 32px; seed = 1 }\n\
        victim monet = cyclegan { source = photos; style = paintings; image_size = 32px\n\
            generator { filters = 4; residual_blocks = 1 }; discriminator { filters = 4; layers = 1 }\n\
            training = { steps = 1; batch_size = 1 } }\n";
    let exp = scratch.write("missing.exp", text.as_bytes());
    Heist::new()
        .args([
            "train",
            exp.to_str().unwrap(),
            "--victim",
            "monet",
            "--out",
            scratch.path("w.safetensors").to_str().unwrap(),
        ])
        .run()
        .status(1)
        .stderr_has("heist::data")
        .stderr_has("no/such/folder");
    assert!(!scratch.path("w.safetensors").exists());
}

/// tiny.exp's SRGAN victim with the VGG19 content loss on `weights` (relu2_2: the parity
/// fixture holds torchvision's features up to there).
fn with_vgg19_loss(scratch_files: &[(&str, &[u8])]) -> (Scratch, String) {
    let tiny =
        std::fs::read_to_string(crate::support::project_root().join("tests/fixtures/tiny.exp"))
            .unwrap()
            .replace(
                "content_loss = pixel",
                "content_loss = vgg19(weights = \"vgg19.pth\", layer = \"relu2_2\")",
            );
    let scratch = Scratch::new(&[("tiny.exp", &tiny)]);
    for (name, bytes) in scratch_files {
        scratch.write(name, bytes);
    }
    let exp = scratch.path("tiny.exp").to_str().unwrap().to_string();
    (scratch, exp)
}

#[test]
fn srgan_trains_with_the_vgg19_content_loss_on_the_users_weights() {
    let vgg = std::fs::read(
        crate::support::project_root().join("tests/fixtures/vgg19/vgg19_to_relu2_2.pth"),
    )
    .unwrap();
    let (scratch, exp) = with_vgg19_loss(&[("vgg19.pth", &vgg)]);
    let perceptual = scratch.path("vgg.safetensors");
    Heist::new()
        .args(["train", &exp, "--victim", "upscaler", "--quiet"])
        .args(["--out", perceptual.to_str().unwrap()])
        .run()
        .status(0);
    let pixel = scratch.path("pixel.safetensors");
    train(
        &["--victim", "upscaler", "--out", pixel.to_str().unwrap()],
        "2",
    );
    let (perceptual, pixel) = (
        std::fs::read(perceptual).unwrap(),
        std::fs::read(pixel).unwrap(),
    );
    assert_eq!(perceptual.len(), pixel.len(), "the same generator");
    assert!(
        perceptual != pixel,
        "the content loss changes what the generator learns"
    );

    // A deeper layer than the file holds is refused by name before training.
    let deeper = std::fs::read_to_string(&exp)
        .unwrap()
        .replace("relu2_2", "relu3_1");
    std::fs::write(&exp, deeper).unwrap();
    Heist::new()
        .args(["train", &exp, "--victim", "upscaler", "--quiet"])
        .args([
            "--out",
            scratch.path("deeper.safetensors").to_str().unwrap(),
        ])
        .run()
        .status(1)
        .stderr_has("`features.10.weight` is missing");
    assert!(!scratch.path("deeper.safetensors").exists());
}

#[test]
fn damaged_vgg19_weights_stop_training_with_the_file_named() {
    let (scratch, exp) = with_vgg19_loss(&[("vgg19.pth", b"not a state dict")]);
    let out = Heist::new()
        .args(["train", &exp, "--victim", "upscaler", "--quiet"])
        .args(["--out", scratch.path("w.safetensors").to_str().unwrap()])
        .run()
        .status(1);
    assert!(
        out.stderr.contains("VGG19 content loss") && out.stderr.contains("vgg19.pth"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("torchvision"),
        "the help says which weights: {}",
        out.stderr
    );
    assert!(!scratch.path("w.safetensors").exists());
}
