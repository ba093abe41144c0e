//! The HTML report in a real browser: Debian's headless Chromium driven through ChromeDriver
//! (WebDriver over HTTP). The page must load with no console errors and every image shown.
//! Without chromium and chromedriver installed the test says so and passes, unless
//! `HEIST_BROWSER_TESTS=1` demands them (`.ci/run` installs them and sets it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::scratch::Scratch;
use crate::support::{smoke_run, Heist};

fn installed(names: &[&str]) -> Option<PathBuf> {
    names.iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// A ChromeDriver process with one headless Chromium session; both end on drop.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

impl Browser {
    fn start(driver: &Path, chromium: &Path) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while agent.get(&format!("{base}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut browser = Browser {
            driver: child,
            base,
            session: String::new(),
            agent,
        };
        let created = browser.post(
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--allow-file-access-from-files"]
                },
                "goog:loggingPrefs": {"browser": "ALL"}
            }}}),
        );
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        browser
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let path = if self.session.is_empty() {
            path.to_string()
        } else {
            format!("/session/{}{path}", self.session)
        };
        let mut response = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let text = response.body_mut().read_to_string().unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        v["value"].clone()
    }

    /// Opens `page` and returns (images that did not show, console messages at error level).
    fn visit(&self, page: &Path) -> (Vec<String>, Vec<String>) {
        self.post("/url", json!({"url": format!("file://{}", page.display())}));
        let images = self.post(
            "/execute/sync",
            json!({"script": "return Array.from(document.images).map(i => [i.alt || i.src.slice(0, 40), i.complete && i.naturalWidth > 0]);", "args": []}),
        );
        let broken = images
            .as_array()
            .expect("images")
            .iter()
            .filter(|i| i[1] != true)
            .map(|i| i[0].to_string())
            .collect();
        let log = self.post("/se/log", json!({"type": "browser"}));
        let errors = log
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].to_string())
                    .collect()
            })
            .unwrap_or_default();
        (broken, errors)
    }

    fn images(&self) -> usize {
        self.post(
            "/execute/sync",
            json!({"script": "return document.images.length;", "args": []}),
        )
        .as_u64()
        .unwrap() as usize
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(&format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn the_html_report_loads_in_chromium_with_every_image_and_no_console_errors() {
    let (Some(driver), Some(chromium)) = (
        installed(&["chromedriver"]),
        installed(&["chromium", "chromium-browser", "google-chrome"]),
    ) else {
        assert!(
            std::env::var_os("HEIST_BROWSER_TESTS").is_none(),
            "HEIST_BROWSER_TESTS is set, but chromium and chromedriver are not installed"
        );
        eprintln!("skipped: install chromium and chromedriver (apt-get install chromium chromium-driver) to test the HTML report in a browser");
        return;
    };
    let scratch = Scratch::new(&[(
        "broken.html",
        "<!DOCTYPE html><html><head><title>x</title></head><body><img src=\"missing.png\" alt=\"missing\"><script>console.error('boom')</script></body></html>",
    )]);
    let run = scratch.path("run");
    smoke_run(&scratch.path("cache"), &run);
    let report = scratch.path("report");
    Heist::new()
        .args([
            "report",
            run.to_str().unwrap(),
            "--out",
            report.to_str().unwrap(),
            "--format",
            "html",
        ])
        .run()
        .status(0);
    let browser = Browser::start(&driver, &chromium);

    // The harness sees a broken page as broken (so that its silence below means something).
    let (broken, errors) = browser.visit(&scratch.path("broken.html"));
    assert_eq!(broken, vec!["\"missing\"".to_string()]);
    assert!(errors.iter().any(|e| e.contains("boom")), "{errors:?}");

    let (broken, errors) = browser.visit(&report.join("report.html"));
    assert!(broken.is_empty(), "images that did not show: {broken:?}");
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert_eq!(browser.images(), html.matches("<img").count());
    assert!(browser.images() >= 7, "figures and sample grids");
}
