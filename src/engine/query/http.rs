//! A victim behind HTTP: each query is one `POST` of a PNG (`Content-Type: image/png`) whose
//! response body is the answer image (PNG or JPEG). Plain `http://` only (put a TLS
//! terminator in front of an `https://` service).

use std::time::Duration;

use image::RgbImage;

use super::{decode, with_retries, Answer, QueryError};
use crate::images::png_bytes;

pub struct HttpVictim {
    url: String,
    agent: ureq::Agent,
    retries: u32,
    timeout_s: f64,
}

impl HttpVictim {
    pub fn new(url: &str, timeout_s: f64, retries: u32) -> HttpVictim {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs_f64(timeout_s)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        HttpVictim {
            url: url.to_string(),
            agent,
            retries,
            timeout_s,
        }
    }

    fn post(&self, body: &[u8]) -> Result<RgbImage, String> {
        let response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "image/png")
            .send(body)
            .map_err(|e| match e {
                ureq::Error::Timeout(_) => format!(
                    "POST {} did not answer within {:.1} s (the victim's `timeout`)",
                    self.url, self.timeout_s
                ),
                e => format!("POST {} failed: {e}", self.url),
            })?;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no content type")
            .to_string();
        let bytes = response
            .into_body()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| format!("POST {}: reading the answer failed: {e}", self.url))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                .trim()
                .to_string();
            return Err(format!(
                "POST {} answered {status}{}",
                self.url,
                if text.is_empty() {
                    String::new()
                } else {
                    format!(": {text}")
                }
            ));
        }
        decode(&bytes).map_err(|e| {
            format!(
                "POST {} answered {} bytes of `{content_type}` that are not an image: {e}",
                self.url,
                bytes.len()
            )
        })
    }
}

impl Answer for HttpVictim {
    fn answer(&mut self, images: &[RgbImage], first: u64) -> Result<Vec<RgbImage>, QueryError> {
        images
            .iter()
            .enumerate()
            .map(|(i, image)| {
                let body = png_bytes(image);
                with_retries(self.retries, || self.post(&body)).map_err(|reason| {
                    QueryError::Failed {
                        index: first + i as u64,
                        reason,
                    }
                })
            })
            .collect()
    }

    fn describe(&self) -> String {
        format!("HTTP endpoint {}", self.url)
    }
}
