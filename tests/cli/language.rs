//! The language's constructs, each shown through `heist show`.

use heist::sema::{check_file, Override, Program};

use crate::scratch::Scratch;
use crate::support::Heist;

/// A small valid setting to build on.
const BASE: &str = r#"
dataset photos    = synthetic { domain = photo;    count = 16; size = 32px; seed = 1 }
dataset paintings = synthetic { domain = painting; count = 16; size = 32px; seed = 2 }
dataset queries   = synthetic { domain = photo;    distribution = attacker; count = 16; size = 32px; seed = 3 }

victim painter = cyclegan {
    source = photos
    style  = paintings
    image_size = 32px
    discriminator { layers = 2 }
}
"#;

const ATTACK: &str = r#"
attack steal {
    victim    = painter
    queries   = queries
    surrogate = pix2pix { image_size = 32px; discriminator { layers = 2 } }
    fractions = [25%, 100%]
    seeds     = 1..3
}
"#;

fn program(files: &[(&str, &str)], overrides: &[&str]) -> Program {
    let scratch = Scratch::new(files);
    let overrides: Vec<Override> = overrides
        .iter()
        .map(|o| Override {
            text: o.to_string(),
        })
        .collect();
    let checked = check_file(&scratch.path(files[0].0), &overrides).expect("readable");
    let errors: Vec<String> = checked
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    checked
        .program
        .unwrap_or_else(|| panic!("expected a valid program, got {errors:?}"))
}

#[test]
fn includes_are_relative_to_the_including_file() {
    let main = format!("include \"settings/base.exp\"\n{ATTACK}");
    let p = program(&[("main.exp", &main), ("settings/base.exp", BASE)], &[]);
    assert!(p.victims.contains_key("painter"));
    assert_eq!(p.attacks["steal"].points.len(), 2 * 3);
}

#[test]
fn a_file_included_twice_is_read_once() {
    let main = "include \"a.exp\"\ninclude \"b.exp\"\n";
    let p = program(
        &[
            ("main.exp", main),
            ("a.exp", "include \"base.exp\"\n"),
            ("b.exp", "include \"base.exp\"\n"),
            ("base.exp", BASE),
        ],
        &[],
    );
    assert_eq!(p.datasets.len(), 3);
}

#[test]
fn variables_fill_values_and_strings() {
    let text = r#"
let root = "/mnt/datasets"
let size = 64px
dataset monet = folder { path = "${root}/monet2photo"; layout = cyclegan; crop_size = size; load_size = 72px }
"#;
    let p = program(&[("main.exp", text)], &[]);
    let monet = &p.datasets["monet"];
    assert_eq!(monet.crop_size, Some(64));
    let json = serde_json::to_value(monet).unwrap();
    assert_eq!(json["path"], "/mnt/datasets/monet2photo");
}

#[test]
fn set_overrides_variables_fields_and_whole_kinds() {
    let text = format!("let n = 16\n{BASE}{ATTACK}");
    let p = program(
        &[("main.exp", &text)],
        &["n=5", "steal.fractions=[50%]", "attack.seeds=[7]"],
    );
    assert_eq!(p.attacks["steal"].fractions, vec![0.5]);
    assert_eq!(p.attacks["steal"].seeds, vec![7]);
    // A plain word is taken as a string, so paths need no quotes.
    let text = "let root = \"/data\"\ndataset d = folder { path = \"${root}/x\" }\n";
    let p = program(&[("main.exp", text)], &["root=/mnt/big"]);
    assert_eq!(
        serde_json::to_value(&p.datasets["d"]).unwrap()["path"],
        "/mnt/big/x"
    );
}

#[test]
fn nested_fields_can_be_overridden() {
    let text = format!("{BASE}{ATTACK}");
    let p = program(
        &[("main.exp", &text)],
        &[
            "steal.surrogate.training.steps=10",
            "painter.generator.residual_blocks=3",
        ],
    );
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(
        json["attacks"]["steal"]["surrogate"]["training"]["length"]["count"],
        10
    );
    assert_eq!(
        json["victims"]["painter"]["architecture"]["residual_blocks"],
        3
    );
}

#[test]
fn a_shared_recipe_in_a_variable_can_be_overridden() {
    let text = format!(
        "let quick = {{ steps = 100; batch_size = 4 }}\n{}",
        format!("{BASE}{ATTACK}").replace(
            "discriminator { layers = 2 } }",
            "discriminator { layers = 2 }; training = quick }"
        )
    );
    let p = program(&[("main.exp", &text)], &["quick.steps=7"]);
    let json = serde_json::to_value(&p.attacks["steal"]).unwrap();
    assert_eq!(json["surrogate"]["training"]["length"]["count"], 7);
    assert_eq!(json["surrogate"]["training"]["batch_size"], 4);
}

#[test]
fn ranges_expand_with_units_and_steps() {
    let text = format!(
        "{BASE}{}",
        ATTACK.replace("fractions = [25%, 100%]", "fractions = 25%..100% step 25%")
    );
    let p = program(&[("main.exp", &text)], &[]);
    assert_eq!(p.attacks["steal"].fractions, vec![0.25, 0.5, 0.75, 1.0]);
    assert_eq!(p.attacks["steal"].seeds, vec![1, 2, 3]);
}

#[test]
fn zip_pairs_axes_and_crosses_the_rest() {
    let attack = ATTACK.replace(
        "seeds     = 1..3",
        "seeds = 1..3\n    augmentations = [flip, contrast(+20%)]\n    sweep = zip(fractions, augmentations)",
    );
    let p = program(&[("main.exp", &format!("{BASE}{attack}"))], &[]);
    let points = &p.attacks["steal"].points;
    assert_eq!(points.len(), 2 * 3, "two zipped pairs times three seeds");
    assert!(points
        .iter()
        .all(|pt| (pt.fraction == 0.25) == (pt.augmentation.to_string() == "flip")));
    assert_eq!(
        p.attacks["steal"].augmentations[1].to_string(),
        "contrast(+20%)"
    );
}

#[test]
fn extends_copies_and_merges_nested_blocks() {
    let text = format!(
        "{BASE}victim deeper extends painter {{ generator {{ residual_blocks = 6 }} defenses = [watermark {{ fraction = 0.5%; trigger = monochrome }}] }}\n"
    );
    let p = program(&[("main.exp", &text)], &[]);
    let json = serde_json::to_value(&p.victims["deeper"]).unwrap();
    assert_eq!(json["architecture"]["residual_blocks"], 6);
    assert_eq!(json["architecture"]["image_size"], 32, "inherited");
    assert_eq!(json["defenses"][0]["name"], "watermark-monochrome");
    assert_eq!(json["defenses"][0]["fraction"], 0.005);
}

#[test]
fn order_comments_and_formatting_do_not_change_the_program() {
    let original = format!("{BASE}{ATTACK}");
    let mut blocks: Vec<&str> = original.split("\n\n").collect();
    blocks.reverse();
    let reordered = format!("# reordered\n{}", blocks.join("\n\n# a comment\n\n"));
    let a = program(&[("a.exp", &original)], &[]);
    let b = program(&[("b.exp", &reordered)], &[]);
    assert_eq!(
        serde_json::to_value(&a.datasets).unwrap(),
        serde_json::to_value(&b.datasets).unwrap()
    );
    assert_eq!(a.attacks, b.attacks);
    assert_eq!(a.victims, b.victims);
}

#[test]
fn units_are_normalised() {
    let text = format!(
        "{BASE}{}",
        ATTACK.replace(
            "seeds     = 1..3",
            "augmentations = [rotate(5deg), cutout(25%)]\n    price_per_query = $0.016\n    max_queries = 10000",
        )
    );
    let p = program(&[("main.exp", &text)], &[]);
    let attack = &p.attacks["steal"];
    assert_eq!(attack.price_usd_per_query, 0.016);
    assert_eq!(attack.augmentations[0].to_string(), "rotate(5deg)");
    assert_eq!(attack.augmentations[1].to_string(), "cutout(25%)");
}

#[test]
fn usage_errors_exit_2() {
    Heist::new().args(["check"]).run().status(2);
    Heist::new()
        .args(["check", "--frobnicate", "x.exp"])
        .run()
        .status(2);
    Heist::new()
        .args(["check", "no/such/file.exp"])
        .run()
        .status(2)
        .stderr_has("cannot read `no/such/file.exp`");
}

#[test]
fn show_refuses_an_invalid_program_without_printing_one() {
    let scratch = Scratch::new(&[("bad.exp", "dataset d = synthetic { domain = photos }\n")]);
    let out = Heist::new()
        .args(["show", "--json", scratch.path("bad.exp").to_str().unwrap()])
        .run()
        .status(1)
        .stderr_has("did you mean `photo`?");
    assert!(out.stdout.is_empty());
}

#[test]
fn warnings_do_not_fail_a_check() {
    let text = r#"
dataset textures = synthetic { domain = texture; count = 16; size = 32px }
victim upscaler = srgan { pairs = textures; hr_crop = 32px }
attack steal {
    victim = upscaler
    queries = textures
    surrogate = srresnet { hr_crop = 32px }
    augmentations = [none, cutout(50%)]
}
"#;
    let scratch = Scratch::new(&[("w.exp", text)]);
    Heist::new()
        .args(["check", scratch.path("w.exp").to_str().unwrap()])
        .run()
        .status(0)
        .stderr_has("cutout on super-resolution queries");
    let _ = scratch.dir();
}

#[test]
fn thousands_of_one_mistake_show_the_first_few_and_a_count() {
    let mut text = String::from("experiment dup { seed = 0 }\n");
    for i in 0..3000 {
        text.push_str(&format!(
            "dataset d = synthetic {{ domain = photo; count = 4; size = 32px; seed = {i} }}\n"
        ));
    }
    let scratch = Scratch::new(&[("dup.exp", &text)]);
    let out = Heist::new()
        .args(["check", scratch.path("dup.exp").to_str().unwrap()])
        .run()
        .status(1)
        .stderr_has("... and 2979 more heist::duplicate_name problems like those above (not shown)")
        .stderr_has("is not a valid experiment: 2999 errors");
    assert!(
        out.stderr.len() < 50_000,
        "{} bytes of diagnostics",
        out.stderr.len()
    );
}

#[test]
fn endless_chains_of_variables_and_extends_are_diagnostics_not_stack_overflows() {
    let mut lets = String::from("experiment deep { seed = 0 }\nlet v0 = 4\n");
    for i in 1..20_000 {
        lets.push_str(&format!("let v{i} = v{}\n", i - 1));
    }
    lets.push_str(
        "dataset d = synthetic { domain = photo; count = v19999; size = 32px; seed = 1 }\n",
    );
    let mut extends = String::from(
        "experiment deep { seed = 0 }\n\
         dataset d0 = synthetic { domain = photo; count = 4; size = 32px; seed = 1 }\n",
    );
    for i in 1..2_000 {
        extends.push_str(&format!(
            "dataset d{i} extends d{} {{ seed = {i} }}\n",
            i - 1
        ));
    }
    let scratch = Scratch::new(&[("lets.exp", &lets), ("extends.exp", &extends)]);
    for (file, says) in [
        ("lets.exp", "of a chain of variables that name each other"),
        (
            "extends.exp",
            "`extends` away from a declaration that stands on its own",
        ),
    ] {
        Heist::new()
            .args(["check", scratch.path(file).to_str().unwrap()])
            .run()
            .status(1)
            .stderr_has("heist::too_deep")
            .stderr_has(says);
    }
}

#[test]
fn a_bare_word_set_on_a_string_variable_is_that_string() {
    let text = "experiment e { seed = 0 }\n\
                let root = \"/data\"\n\
                dataset photos = folder { path = \"${root}/photos\" }\n";
    let p = program(&[("e.exp", text)], &["root=mnt"]);
    let source = serde_json::to_string(&p.datasets["photos"].source).unwrap();
    assert!(source.contains("\"mnt/photos\""), "{source}");
}
