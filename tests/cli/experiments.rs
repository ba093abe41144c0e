//! Every shipped experiment checks, and the quickstart resolves to what later stages expect.

use crate::support::{project_root, shipped_experiments, Heist};

#[test]
fn every_shipped_experiment_checks() {
    let experiments = shipped_experiments();
    assert!(
        experiments.len() >= 10,
        "found only {} experiments",
        experiments.len()
    );
    for path in experiments {
        Heist::new()
            .args(["check", path.to_str().expect("utf-8 path")])
            .run()
            .status(0)
            .stdout_has("ok: ");
    }
}

#[test]
fn several_files_are_checked_in_one_call() {
    Heist::new()
        .args([
            "check",
            "experiments/quickstart.exp",
            "experiments/table3_monet_to_photo.exp",
        ])
        .run()
        .status(0)
        .stdout_has("quickstart.exp")
        .stdout_has("table3_monet_to_photo.exp");
}

#[test]
fn quickstart_covers_all_three_settings() {
    let out = Heist::new()
        .args(["show", "--json", "experiments/quickstart.exp"])
        .run()
        .status(0);
    let program: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("show --json prints JSON");
    let victims = program["victims"].as_object().expect("victims");
    let architectures: Vec<&str> = victims
        .values()
        .map(|v| v["architecture"]["name"].as_str().expect("name"))
        .collect();
    for needed in ["cyclegan", "ugatit", "srgan"] {
        assert!(
            architectures.contains(&needed),
            "no {needed} victim in {architectures:?}"
        );
    }
    for (name, attack) in program["attacks"].as_object().expect("attacks") {
        let points = attack["points"].as_array().expect("points");
        assert!(
            attack["fractions"].as_array().expect("fractions").len() >= 2,
            "{name}: fractions"
        );
        assert!(
            attack["seeds"].as_array().expect("seeds").len() >= 2,
            "{name}: seeds"
        );
        assert_eq!(
            points.len(),
            attack["fractions"].as_array().unwrap().len()
                * attack["augmentations"].as_array().unwrap().len()
                * attack["seeds"].as_array().unwrap().len(),
            "{name}: a cross sweep has every combination"
        );
    }
}

#[test]
fn yaml_and_json_describe_the_same_program() {
    let yaml = Heist::new()
        .args(["show", "experiments/quickstart.exp"])
        .run()
        .status(0)
        .stdout;
    let json = Heist::new()
        .args(["show", "--json", "experiments/quickstart.exp"])
        .run()
        .status(0)
        .stdout;
    let from_yaml: heist::sema::Program = serde_norway::from_str(&yaml).expect("YAML reads back");
    let from_json: heist::sema::Program = serde_json::from_str(&json).expect("JSON reads back");
    assert_eq!(from_yaml, from_json);
}

#[test]
fn the_readme_shows_the_commands_that_work() {
    let readme = std::fs::read_to_string(project_root().join("README.md")).expect("README.md");
    // The first command runs the quickstart; the second runs the tests.
    let commands: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|block| block.lines().next())
        .collect();
    assert!(
        commands[0].contains("heist run experiments/quickstart.exp --out runs/quickstart")
            && commands[0].ends_with("heist report runs/quickstart"),
        "{commands:?}"
    );
    assert_eq!(commands[1], "cargo test --release --locked");
}
