//! The black-box boundary: the attacker's code sees a victim only as [`Victim::query`] (images
//! in, images out), which counts every image sent and its cost. Behind it: a generator in this
//! process (trained here or loaded from weights), an external command, or an HTTP endpoint.

mod command;
mod http;

use std::time::Duration;

use burn::tensor::Device;
use image::RgbImage;

use crate::engine::models::Generator;

pub use command::CommandVictim;
pub use http::HttpVictim;

/// Something that answers images with images.
pub trait Answer: Send {
    /// The answers to `images`, one each, in order; `first` is the index of `images[0]` among
    /// all queries so far (for errors).
    fn answer(&mut self, images: &[RgbImage], first: u64) -> Result<Vec<RgbImage>, QueryError>;
    /// What the victim is, for logs and manifests.
    fn describe(&self) -> String;
}

/// Why a query failed, naming it.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("query {index}: {reason}")]
    Failed { index: u64, reason: String },
    #[error("query {index} would exceed the attack's budget of {max} queries")]
    Budget { index: u64, max: u64 },
}

impl QueryError {
    pub fn help(&self) -> &'static str {
        match self {
            QueryError::Failed { .. } => {
                "check that the victim is running and answers images with images; raise `timeout` or `retries` for a slow service"
            }
            QueryError::Budget { .. } => "raise `max_queries` or use a smaller data fraction",
        }
    }
}

/// A victim behind its query interface, with the attacker's query count and bill.
pub struct Victim {
    answer: Box<dyn Answer>,
    queries: u64,
    price_usd: f64,
    max_queries: Option<u64>,
}

impl Victim {
    pub fn new(
        answer: Box<dyn Answer>,
        price_usd_per_query: f64,
        max_queries: Option<u64>,
    ) -> Victim {
        Victim {
            answer,
            queries: 0,
            price_usd: price_usd_per_query,
            max_queries,
        }
    }

    /// The victim's answers to `images` (one query per image).
    pub fn query(&mut self, images: &[RgbImage]) -> Result<Vec<RgbImage>, QueryError> {
        if let Some(max) = self.max_queries {
            if self.queries + images.len() as u64 > max {
                return Err(QueryError::Budget {
                    index: self.queries.max(max),
                    max,
                });
            }
        }
        let answers = self.answer.answer(images, self.queries)?;
        if answers.len() != images.len() {
            return Err(QueryError::Failed {
                index: self.queries,
                reason: format!(
                    "{} images sent, {} answers received",
                    images.len(),
                    answers.len()
                ),
            });
        }
        self.queries += images.len() as u64;
        Ok(answers)
    }

    pub fn queries(&self) -> u64 {
        self.queries
    }

    pub fn cost_usd(&self) -> f64 {
        self.queries as f64 * self.price_usd
    }

    pub fn describe(&self) -> String {
        self.answer.describe()
    }
}

/// A generator in this process: a victim trained by heist or loaded from weights.
pub struct LocalVictim {
    generator: Generator,
    device: Device,
    label: String,
}

impl LocalVictim {
    pub fn new(generator: Generator, device: Device, label: impl Into<String>) -> LocalVictim {
        LocalVictim {
            generator,
            device,
            label: label.into(),
        }
    }
}

impl Answer for LocalVictim {
    fn answer(&mut self, images: &[RgbImage], first: u64) -> Result<Vec<RgbImage>, QueryError> {
        if let Some((i, _)) = images
            .iter()
            .enumerate()
            .find(|(_, im)| im.dimensions() != images[0].dimensions())
        {
            let (w, h) = images[i].dimensions();
            let (w0, h0) = images[0].dimensions();
            return Err(QueryError::Failed {
                index: first + i as u64,
                reason: format!(
                    "it is {w}x{h} but query {first} of the same batch is {w0}x{h0}: the queries of one call share a size (resize the attacker's images, e.g. with the dataset's `load_size`)"
                ),
            });
        }
        Ok(self.generator.translate(images, &self.device))
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}

/// Retries `attempt` up to `retries` more times with doubling pauses (0.1 s, 0.2 s, ...);
/// the last error is returned with how many attempts were made.
pub(crate) fn with_retries<T>(
    retries: u32,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let mut pause = Duration::from_millis(100);
    let mut last = String::new();
    for n in 0..=retries {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
        if n < retries {
            std::thread::sleep(pause);
            pause *= 2;
        }
    }
    Err(if retries > 0 {
        format!("{last} (after {} attempts)", retries + 1)
    } else {
        last
    })
}

/// An answer image from bytes (PNG or JPEG), as RGB.
pub(crate) fn decode(bytes: &[u8]) -> Result<RgbImage, String> {
    image::load_from_memory(bytes)
        .map(|i| i.to_rgb8())
        .map_err(|e| format!("the answer is not an image ({e})"))
}
