//! The checked, fully resolved program: includes, variables, `extends`, sweeps and `--set`
//! overrides applied, defaults filled in, units normalised (fractions in (0, 1], angles in
//! degrees, money in USD, sizes in pixels, times in seconds). This is what `heist show`
//! prints, what later stages consume and what a run manifest records.
//!
//! Maps are ordered by name, so the order of declarations in a file never changes the program.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A whole checked experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub experiment: Experiment,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub datasets: BTreeMap<String, Dataset>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub victims: BTreeMap<String, Victim>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attacks: BTreeMap<String, Attack>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub evaluations: BTreeMap<String, Evaluation>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_studies: BTreeMap<String, UserStudy>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub comparisons: BTreeMap<String, Comparison>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reports: BTreeMap<String, Report>,
}

/// The experiment as a whole: its name (the `experiment` column of results), base seed and
/// the tolerances `heist diff` applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub name: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Mixed into every derived seed, so two experiments can differ only by it.
    pub seed: u64,
    /// Relative tolerance per metric (`fid`, `kid`, `ssim`, `psnr`, ...) for `heist diff`.
    pub tolerances: BTreeMap<String, f64>,
}

// ---------------------------------------------------------------------------------------------
// Data

/// An image dataset: a folder in a known layout or a built-in synthetic domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// How tables name it ("Monet2Photo Test", "LFW").
    pub label: String,
    #[serde(flatten)]
    pub source: DatasetSource,
    /// Resize images to this size before cropping (the reference implementations' `load_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_size: Option<u32>,
    /// Crop to this size (random crop for training, centre crop otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop_size: Option<u32>,
    /// Use only the first N images in file-name order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DatasetSource {
    Folder {
        path: String,
        layout: Layout,
        /// Super-resolution factor between LR and HR (bicubic downscaling when no LR is given).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale: Option<u32>,
    },
    Synthetic {
        domain: Domain,
        distribution: Distribution,
        count: u64,
        size: u32,
        seed: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale: Option<u32>,
    },
}

/// Folder layouts people download datasets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Images directly in the folder (recursively).
    Plain,
    /// CycleGAN/Kaggle: `trainA/ trainB/ testA/ testB/`.
    Cyclegan,
    /// DIV2K: `DIV2K_train_HR/`, `DIV2K_valid_HR/` and optional `DIV2K_*_LR_bicubic/X4/`.
    Div2k,
    /// Super-resolution pairs: `HR/` and `LR/` with the same file names.
    Paired,
    /// High-resolution images only; LR made by bicubic downscaling.
    Hr,
}

impl Layout {
    pub const ALL: [(&'static str, Layout); 5] = [
        ("plain", Layout::Plain),
        ("cyclegan", Layout::Cyclegan),
        ("div2k", Layout::Div2k),
        ("paired", Layout::Paired),
        ("hr", Layout::Hr),
    ];

    /// The word that selects this layout in an `.exp` file.
    pub fn name(self) -> &'static str {
        Layout::ALL
            .iter()
            .find(|(_, l)| *l == self)
            .map_or("plain", |(n, _)| n)
    }

    /// The named parts (`monet2photo.testA`); empty when the dataset is used whole.
    pub fn parts(self) -> &'static [&'static str] {
        match self {
            Layout::Cyclegan => &["trainA", "trainB", "testA", "testB"],
            Layout::Div2k => &["train", "valid"],
            Layout::Plain | Layout::Paired | Layout::Hr => &[],
        }
    }

    /// Whether the layout holds high-resolution ground truth for super-resolution.
    pub fn has_high_resolution(self) -> bool {
        matches!(self, Layout::Div2k | Layout::Paired | Layout::Hr)
    }
}

/// Built-in synthetic image domains (deterministic, no downloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Photo-like scenes: sky gradients, hills, sun, textures, buildings.
    Photo,
    /// The victim's secret painting style (palette, brush strokes, edges).
    Painting,
    /// Face-like images (selfies).
    Face,
    /// Anime-like faces.
    Anime,
    /// Textured images for super-resolution (HR; LR by downscaling).
    Texture,
}

impl Domain {
    pub const ALL: [(&'static str, Domain); 5] = [
        ("photo", Domain::Photo),
        ("painting", Domain::Painting),
        ("face", Domain::Face),
        ("anime", Domain::Anime),
        ("texture", Domain::Texture),
    ];
}

/// Which population a synthetic domain draws from: the paper's attacker uses other data than the
/// victim, and benchmarks are a third source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    Victim,
    Attacker,
    Benchmark,
}

impl Distribution {
    pub const ALL: [(&'static str, Distribution); 3] = [
        ("victim", Distribution::Victim),
        ("attacker", Distribution::Attacker),
        ("benchmark", Distribution::Benchmark),
    ];
}

/// A dataset, or one part of it (`monet2photo.testA`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DataRef {
    pub dataset: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
}

impl fmt::Display for DataRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.part {
            Some(part) => write!(f, "{}.{part}", self.dataset),
            None => f.write_str(&self.dataset),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Models

/// What a model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    StyleTransfer,
    SuperResolution,
}

impl Task {
    pub fn describe(self) -> &'static str {
        match self {
            Task::StyleTransfer => "style transfer",
            Task::SuperResolution => "super-resolution",
        }
    }
}

/// A network and its hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Architecture {
    Cyclegan(CycleGan),
    Ugatit(Ugatit),
    Srgan(Srgan),
    Pix2pix(Pix2Pix),
    Srresnet(SrResNet),
}

impl Architecture {
    pub fn task(&self) -> Task {
        match self {
            Architecture::Cyclegan(_) | Architecture::Ugatit(_) | Architecture::Pix2pix(_) => {
                Task::StyleTransfer
            }
            Architecture::Srgan(_) | Architecture::Srresnet(_) => Task::SuperResolution,
        }
    }

    /// The input sizes its generator takes.
    pub fn input_sides(&self) -> Sides {
        match self {
            Architecture::Pix2pix(a) => Sides::MultipleOf(1 << a.unet_depth),
            Architecture::Cyclegan(_) => Sides::MultipleOf(4),
            Architecture::Ugatit(a) if a.light => Sides::MultipleOf(4),
            // A layer sized to the image.
            Architecture::Ugatit(a) => Sides::Exactly(a.image_size),
            Architecture::Srgan(_) | Architecture::Srresnet(_) => Sides::Any,
        }
    }

    /// The side of the random crops training takes from its input images.
    pub fn training_crop(&self) -> u32 {
        match self {
            Architecture::Pix2pix(a) => a.image_size,
            Architecture::Cyclegan(a) => a.image_size,
            Architecture::Ugatit(a) => a.image_size,
            Architecture::Srgan(a) => a.hr_crop / a.scale,
            Architecture::Srresnet(a) => a.hr_crop / a.scale,
        }
    }

    /// Upscaling factor (1 for style transfer).
    pub fn scale(&self) -> u32 {
        match self {
            Architecture::Srgan(a) => a.scale,
            Architecture::Srresnet(a) => a.scale,
            _ => 1,
        }
    }
}

/// The image sides a generator takes: any, multiples of its down-sampling factor, or exactly
/// one size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sides {
    Any,
    MultipleOf(u32),
    Exactly(u32),
}

impl Sides {
    /// Whether a `width` x `height` image fits.
    pub fn fit(self, width: u32, height: u32) -> bool {
        match self {
            Sides::Any => true,
            Sides::MultipleOf(m) => {
                width > 0 && height > 0 && width.is_multiple_of(m) && height.is_multiple_of(m)
            }
            Sides::Exactly(s) => (width, height) == (s, s),
        }
    }

    /// The side nearest above `side` that fits.
    pub fn nearest(self, side: u32) -> u32 {
        match self {
            Sides::Any => side,
            Sides::MultipleOf(m) => side.max(1).next_multiple_of(m),
            Sides::Exactly(s) => s,
        }
    }
}

/// CycleGAN (Zhu et al. 2017): ResNet generator, 70x70 PatchGAN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleGan {
    pub image_size: u32,
    pub generator_filters: u32,
    pub residual_blocks: u32,
    pub discriminator_filters: u32,
    pub discriminator_layers: u32,
}

/// U-GAT-IT (Kim et al. 2020): CAM attention and AdaLIN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ugatit {
    pub image_size: u32,
    pub filters: u32,
    pub residual_blocks: u32,
    /// The light variant (smaller fully connected layers in the AdaLIN parameter path).
    pub light: bool,
    pub discriminator_filters: u32,
    /// Layers of the global discriminator (7 in the paper; it down-samples `layers - 2` times).
    pub global_layers: u32,
    /// Layers of the local discriminator (5 in the paper).
    pub local_layers: u32,
}

/// SRGAN (Ledig et al. 2017): SRResNet generator with a VGG-style discriminator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Srgan {
    pub scale: u32,
    pub filters: u32,
    pub residual_blocks: u32,
    pub discriminator_filters: u32,
    /// Size of the high-resolution training crops.
    pub hr_crop: u32,
}

/// Pix2Pix (Isola et al. 2017): U-Net generator with skips, PatchGAN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pix2Pix {
    pub image_size: u32,
    pub generator_filters: u32,
    /// Number of down-samplings of the U-Net (8 for 256 px).
    pub unet_depth: u32,
    pub discriminator_filters: u32,
    pub discriminator_layers: u32,
    pub dropout: bool,
}

/// SRResNet (Ledig et al. 2017) trained with MSE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrResNet {
    pub scale: u32,
    pub filters: u32,
    pub residual_blocks: u32,
    pub hr_crop: u32,
}

/// How long to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "unit", content = "count", rename_all = "snake_case")]
pub enum Length {
    Epochs(u64),
    Steps(u64),
}

/// Learning-rate schedule, with positions as fractions of the training length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    Constant,
    /// Constant until `start`, then linearly to zero (CycleGAN, Pix2Pix).
    LinearDecay {
        start: f64,
    },
    /// Multiply by `factor` at `at` (SRGAN).
    StepDecay {
        at: f64,
        factor: f64,
    },
}

/// SRGAN's content loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ContentLoss {
    /// Pixel-wise MSE (used when no VGG19 weights are given).
    Pixel,
    /// VGG19 feature loss with weights the user provides.
    Vgg19 { weights: String, layer: String },
}

/// Convolutions per block of VGG19 (configuration E); a 2x2 max pool follows each block.
pub const VGG19_BLOCKS: [usize; 5] = [2, 2, 4, 4, 4];

/// A layer of VGG19's features: the `index`-th convolution (0-based, of 16), before or after
/// its ReLU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vgg19Layer {
    pub convolutions: usize,
    pub activated: bool,
}

impl Vgg19Layer {
    /// `relu5_4`, `conv2_2`, ...: block and convolution counted from 1, as in the papers.
    pub fn parse(name: &str) -> Result<Vgg19Layer, String> {
        let bad = || {
            format!(
                "`{name}` is not a VGG19 layer: its blocks 1 to 5 have 2, 2, 4, 4 and 4 convolutions; write reluB_C (after the activation) or convB_C (before it)"
            )
        };
        let (activated, rest) = match (name.strip_prefix("relu"), name.strip_prefix("conv")) {
            (Some(rest), _) => (true, rest),
            (_, Some(rest)) => (false, rest),
            _ => return Err(bad()),
        };
        let (block, conv) = rest.split_once('_').ok_or_else(bad)?;
        let (block, conv): (usize, usize) = (
            block.parse().map_err(|_| bad())?,
            conv.parse().map_err(|_| bad())?,
        );
        if !(1..=5).contains(&block) || !(1..=VGG19_BLOCKS[block - 1]).contains(&conv) {
            return Err(bad());
        }
        Ok(Vgg19Layer {
            convolutions: VGG19_BLOCKS[..block - 1].iter().sum::<usize>() + conv,
            activated,
        })
    }
}

/// A training recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Training {
    pub length: Length,
    pub batch_size: u32,
    pub learning_rate: f64,
    pub discriminator_learning_rate: f64,
    pub betas: [f64; 2],
    pub weight_decay: f64,
    pub schedule: Schedule,
    /// Loss weights by name (`adversarial`, `cycle`, `identity`, `cam`, `l1`, `content`, `mse`).
    pub losses: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_loss: Option<ContentLoss>,
    /// SRGAN: generator-only MSE warm-up before adversarial training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrain: Option<Length>,
}

// ---------------------------------------------------------------------------------------------
// Victims, defences and attacks

/// The model under attack, reachable only through its query interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Victim {
    pub task: Task,
    /// Upscaling factor (1 for style transfer).
    pub scale: u32,
    #[serde(flatten)]
    pub model: VictimModel,
    /// Applied to every answer the victim's API gives, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defenses: Vec<Defense>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // Built once per victim; boxing would only add noise.
pub enum VictimModel {
    /// Trained by heist from the victim's own data.
    Trained {
        architecture: Architecture,
        data: VictimData,
        training: Training,
        seed: u64,
    },
    /// Loaded from a weights file.
    Weights {
        architecture: Architecture,
        path: String,
    },
    /// An external program: reads images from a folder, writes its outputs to another.
    Command {
        command: String,
        timeout_s: f64,
        retries: u32,
        image_size: u32,
    },
    /// An HTTP endpoint: POST an image, receive an image.
    Http {
        url: String,
        timeout_s: f64,
        retries: u32,
        image_size: u32,
    },
}

impl VictimModel {
    /// The architecture of a victim heist builds (`None` for external victims).
    pub fn architecture(&self) -> Option<&Architecture> {
        match self {
            VictimModel::Trained { architecture, .. }
            | VictimModel::Weights { architecture, .. } => Some(architecture),
            VictimModel::Command { .. } | VictimModel::Http { .. } => None,
        }
    }
}

/// The victim's training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VictimData {
    /// Style transfer: unpaired source photos and the secret style set.
    Unpaired { source: DataRef, style: DataRef },
    /// Super-resolution: LR/HR pairs.
    Paired { pairs: DataRef },
}

/// A defence wrapped around the victim's answers (Section 7 of the paper).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Defense {
    /// DAWN-style: a fraction of answers is modified with a trigger and remembered.
    Watermark {
        name: String,
        fraction: f64,
        trigger: Trigger,
        key: String,
    },
    /// Steganographic fingerprint of `bits` bits in every answer.
    Fingerprint {
        name: String,
        bits: u32,
        key: String,
    },
    /// Adversarial output perturbation by PGD under L-infinity (pixels in [0, 1]).
    Perturbation {
        name: String,
        epsilon: f64,
        steps: u32,
        step_size: f64,
    },
}

impl Defense {
    pub fn name(&self) -> &str {
        match self {
            Defense::Watermark { name, .. }
            | Defense::Fingerprint { name, .. }
            | Defense::Perturbation { name, .. } => name,
        }
    }
}

/// How a watermarked answer is modified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    Blur,
    Monochrome,
    Text { text: String },
}

/// A model-extraction attack: query the victim, train a surrogate on its answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attack {
    pub victim: String,
    pub task: Task,
    /// The attacker's own (unlabelled) data, sent to the victim as queries.
    pub queries: DataRef,
    pub surrogate: Surrogate,
    pub fractions: Vec<f64>,
    pub augmentations: Vec<Augmentation>,
    pub seeds: Vec<u64>,
    pub sweep: Sweep,
    pub price_usd_per_query: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queries: Option<u64>,
    /// The sweep expanded: one surrogate is trained per point.
    pub points: Vec<AttackPoint>,
}

/// The attacker's model and how it is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Surrogate {
    pub architecture: Architecture,
    pub training: Training,
}

/// A local augmentation of the attacker's query data (Section 6.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Augmentation {
    None,
    /// Horizontal flip.
    Flip,
    Rotate {
        degrees: f64,
    },
    /// Crop in on a random part covering `size` of each side, resized back.
    Cutout {
        size: f64,
    },
    /// Contrast change by a relative amount (0.2 = +20 %).
    Contrast {
        change: f64,
    },
}

impl fmt::Display for Augmentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Augmentation::None => f.write_str("none"),
            Augmentation::Flip => f.write_str("flip"),
            Augmentation::Rotate { degrees } => write!(f, "rotate({degrees}deg)"),
            Augmentation::Cutout { size } => write!(f, "cutout({}%)", percent(*size)),
            Augmentation::Contrast { change } => write!(f, "contrast({:+}%)", percent(*change)),
        }
    }
}

fn percent(x: f64) -> f64 {
    (x * 100.0 * 1e6).round() / 1e6
}

impl std::str::FromStr for Augmentation {
    type Err = String;

    /// Reads back what `Display` writes (`none`, `flip`, `rotate(5deg)`, `cutout(30%)`,
    /// `contrast(+20%)`), as results files name augmentations.
    fn from_str(text: &str) -> Result<Augmentation, String> {
        let argument = |name: &str, unit: &str| -> Option<f64> {
            text.strip_prefix(name)?
                .strip_prefix('(')?
                .strip_suffix(')')?
                .strip_suffix(unit)?
                .parse::<f64>()
                .ok()
        };
        match text {
            "none" => return Ok(Augmentation::None),
            "flip" => return Ok(Augmentation::Flip),
            _ => {}
        }
        if let Some(degrees) = argument("rotate", "deg") {
            return Ok(Augmentation::Rotate { degrees });
        }
        if let Some(p) = argument("cutout", "%") {
            return Ok(Augmentation::Cutout { size: p / 100.0 });
        }
        if let Some(p) = argument("contrast", "%") {
            return Ok(Augmentation::Contrast { change: p / 100.0 });
        }
        Err("expected none, flip, rotate(Ndeg), cutout(N%) or contrast(±N%)".into())
    }
}

/// How the attack's lists combine into points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sweep {
    /// Every combination.
    Cross,
    /// The named axes advance together; the result is crossed with the other axes.
    Zip { axes: Vec<Axis> },
}

/// A sweep axis of an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    Fractions,
    Augmentations,
    Seeds,
}

impl Axis {
    pub const ALL: [(&'static str, Axis); 3] = [
        ("fractions", Axis::Fractions),
        ("augmentations", Axis::Augmentations),
        ("seeds", Axis::Seeds),
    ];
}

/// One surrogate to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackPoint {
    pub fraction: f64,
    pub augmentation: Augmentation,
    pub seed: u64,
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// The (A)/(B)/(C) cells of Tables 3-5 and the defence checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Cell {
    /// Victim output vs ground truth.
    A,
    /// Surrogate output vs victim output.
    B,
    /// Surrogate output vs ground truth.
    C,
    /// Does the surrogate reproduce the victim's watermark triggers?
    #[serde(rename = "watermark")]
    Watermark,
    /// Does the surrogate's output carry the victim's fingerprint?
    #[serde(rename = "fingerprint")]
    Fingerprint,
}

impl Cell {
    pub const ALL: [(&'static str, Cell); 5] = [
        ("A", Cell::A),
        ("B", Cell::B),
        ("C", Cell::C),
        ("watermark", Cell::Watermark),
        ("fingerprint", Cell::Fingerprint),
    ];

    /// Cells that compare against ground truth.
    pub fn needs_ground_truth(self) -> bool {
        matches!(self, Cell::A | Cell::C)
    }
}

/// What ground truth an evaluation compares with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GroundTruth {
    /// Style transfer: the style set (an unpaired distribution).
    StyleSet { data: DataRef },
    /// Super-resolution: each test image's own high-resolution original.
    HighResolution,
    /// No ground truth: only cell (B) can be measured.
    None,
}

/// A metric and its convention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "metric", rename_all = "snake_case")]
pub enum Metric {
    Fid { extractor: Extractor },
    Kid { extractor: Extractor },
    Ssim { y_channel: bool, crop_border: u32 },
    Psnr { y_channel: bool, crop_border: u32 },
}

impl Metric {
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Fid { .. } => "fid",
            Metric::Kid { .. } => "kid",
            Metric::Ssim { .. } => "ssim",
            Metric::Psnr { .. } => "psnr",
        }
    }

    /// FID and KID compare distributions; SSIM and PSNR compare images pairwise.
    pub fn is_paired(&self) -> bool {
        matches!(self, Metric::Ssim { .. } | Metric::Psnr { .. })
    }
}

/// The feature space of FID/KID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Extractor {
    /// Inception v3 pool3 with pytorch-fid's weights: the standard FID. Without `weights`, the
    /// path comes from `--inception-weights` or `HEIST_INCEPTION_WEIGHTS` at run time.
    InceptionV3 {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<String>,
    },
    /// A fixed, seeded random convolutional network: reported as `FD-random_conv`, never FID.
    RandomConv { seed: u64 },
}

/// An evaluation: the attacks' surrogates and their victim, measured on test sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The `setting` column of results ("Monet-to-Photo").
    pub setting: String,
    pub attacks: Vec<String>,
    /// The victim's own test set.
    pub victim_test: DataRef,
    pub benchmarks: Vec<DataRef>,
    pub ground_truth: GroundTruth,
    pub cells: Vec<Cell>,
    pub metrics: Vec<Metric>,
    /// Number of input | victim | surrogate rows in sample grids.
    pub samples: u32,
}

// ---------------------------------------------------------------------------------------------
// Statistics, comparison, reports

/// A user study (Section 5.4): ratings of two models, Welch's t-test and TOST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserStudy {
    pub setting: String,
    /// CSV file of ratings, one row per rating.
    pub ratings: String,
    pub value_column: String,
    pub group_column: String,
    /// Groups A and B; by default the two groups in order of first appearance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<[String; 2]>,
    /// The rating scale (1..5 for a 5-point Likert scale).
    pub scale: [i64; 2],
    pub tests: Vec<StatTest>,
    pub bound: EquivalenceBound,
    pub alpha: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatTest {
    Welch,
    Tost,
}

/// TOST equivalence bounds: in Cohen's d, or in raw units of the ratings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "unit", rename_all = "snake_case")]
pub enum EquivalenceBound {
    CohenD { d: f64 },
    Raw { value: f64 },
}

impl EquivalenceBound {
    /// The bound as the statistics library takes it.
    pub fn to_stats(&self) -> crate::stats::Bound {
        match *self {
            EquivalenceBound::CohenD { d } => crate::stats::Bound::CohenD(d),
            EquivalenceBound::Raw { value } => crate::stats::Bound::Raw(value),
        }
    }
}

/// Dataless black-box model comparison (Theiss et al.): distances between models' answers to
/// probes that are not real data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub models: Vec<ModelRef>,
    /// The model the others are compared with (the suspected original).
    pub reference: ModelRef,
    pub probes: Probes,
    pub distance: Distance,
    pub repeats: u32,
    pub seed: u64,
}

/// A victim, or the surrogates of an attack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum ModelRef {
    Victim(String),
    Attack(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Probes {
    UniformNoise {
        count: u64,
        size: u32,
    },
    GaussianNoise {
        count: u64,
        size: u32,
        mean: f64,
        std: f64,
    },
    /// Images of a dataset (for example a synthetic domain unrelated to the training data).
    Dataset {
        data: DataRef,
        count: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    L1,
    L2,
    Ssim,
    Psnr,
}

/// Output formats of `heist report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Md,
    Html,
    Tex,
}

/// What a report contains, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub formats: Vec<Format>,
    pub items: Vec<ReportItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum ReportItem {
    /// Tables 3-5: output distribution x test set against compared distribution, cells (A)-(C).
    CellsTable {
        evaluation: String,
        metric: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fraction: Option<f64>,
    },
    /// Table 6: augmentation x test set at one fraction, relative change to the baseline.
    AugmentationTable {
        evaluation: String,
        metric: String,
        fraction: f64,
        cell: Cell,
    },
    /// Figure 7: metric against data fraction, mean and spread over seeds.
    FractionPlot {
        evaluation: String,
        metric: String,
        cells: Vec<Cell>,
    },
    /// Figure 6: rating histograms of the two models with their means, and the statistics.
    LikertHistogram { user_study: String },
    /// Section 7: the defences' effect on the attack and whether their marks transfer.
    DefenseTable { evaluation: String },
    /// Section 8: queries and their price per attack.
    CostTable { attacks: Vec<String> },
    /// Input | victim | surrogate image grids.
    Samples { evaluation: String },
    /// Distances of the dataless model comparison.
    ComparisonTable { comparison: String },
}
