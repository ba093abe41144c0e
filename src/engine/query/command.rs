//! A victim that is a program: heist writes the queries as PNG files into a fresh input
//! folder, runs the command (`{input}` and `{output}` in it become the folders; they are also
//! in `HEIST_INPUT` and `HEIST_OUTPUT`), and reads one answer per input, by file name, from the
//! output folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use image::RgbImage;

use super::{decode, with_retries, Answer, QueryError};
use crate::images::png_bytes;

pub struct CommandVictim {
    command: String,
    timeout: Duration,
    retries: u32,
    scratch: PathBuf,
    calls: u64,
}

impl CommandVictim {
    /// `scratch` is a folder heist may fill with the exchanged images.
    pub fn new(command: &str, timeout_s: f64, retries: u32, scratch: &Path) -> CommandVictim {
        CommandVictim {
            command: command.to_string(),
            timeout: Duration::from_secs_f64(timeout_s),
            retries,
            scratch: scratch.to_path_buf(),
            calls: 0,
        }
    }

    fn run_once(&self, input: &Path, output: &Path, count: usize) -> Result<Vec<RgbImage>, String> {
        let _ = std::fs::remove_dir_all(output);
        std::fs::create_dir_all(output)
            .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
        let line = self
            .command
            .replace("{input}", &shell_quote(input))
            .replace("{output}", &shell_quote(output));
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&line)
            .env("HEIST_INPUT", input)
            .env("HEIST_OUTPUT", output)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // Its own process group: a timeout ends the victim's whole tree, not only `sh`.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start `{line}`: {e}"))?;
        // stderr is drained while the program runs (a full pipe would stall it); its tail is
        // kept for the error message.
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                use std::io::Read;
                let mut tail: Vec<u8> = vec![];
                let mut buffer = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    tail.extend_from_slice(&buffer[..n]);
                    if tail.len() > STDERR_TAIL {
                        tail.drain(..tail.len() - STDERR_TAIL);
                    }
                }
                String::from_utf8_lossy(&tail).into_owned()
            })
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if start.elapsed() > self.timeout {
                kill_tree(&mut child);
                return Err(format!(
                    "`{line}` did not finish within {:.1} s (it and its child processes were stopped)",
                    self.timeout.as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // Children left running in the group would keep the pipe open: they go too.
        kill_tree(&mut child);
        let stderr = stderr
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        if !status.success() {
            let last = stderr.lines().last().unwrap_or("").trim().to_string();
            return Err(format!(
                "`{line}` exited with {status}{}",
                if last.is_empty() {
                    String::new()
                } else {
                    format!(": {last}")
                }
            ));
        }
        (0..count)
            .map(|i| {
                let path = output.join(file_name(i));
                let bytes = std::fs::read(&path).map_err(|_| {
                    format!(
                        "`{line}` wrote no {} for input {}",
                        path.display(),
                        file_name(i)
                    )
                })?;
                decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))
            })
            .collect()
    }
}

/// How much of a victim's stderr is kept for its error message.
const STDERR_TAIL: usize = 4096;

/// Ends the program's process group (the `sh` and everything it started), then reaps it.
fn kill_tree(child: &mut std::process::Child) {
    #[cfg(unix)]
    // SAFETY: kill(2) with the negated pid of the group the child leads; no memory is shared.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn file_name(i: usize) -> String {
    format!("{i:06}.png")
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

impl Answer for CommandVictim {
    fn answer(&mut self, images: &[RgbImage], first: u64) -> Result<Vec<RgbImage>, QueryError> {
        self.calls += 1;
        let call = self.scratch.join(format!("call-{}", self.calls));
        let (input, output) = (call.join("input"), call.join("output"));
        let failed = |reason: String| QueryError::Failed {
            index: first,
            reason,
        };
        std::fs::create_dir_all(&input)
            .map_err(|e| failed(format!("cannot create {}: {e}", input.display())))?;
        for (i, image) in images.iter().enumerate() {
            std::fs::write(input.join(file_name(i)), png_bytes(image)).map_err(|e| {
                failed(format!(
                    "cannot write the queries to {}: {e}",
                    input.display()
                ))
            })?;
        }
        let answers = with_retries(self.retries, || {
            self.run_once(&input, &output, images.len())
        })
        .map_err(failed)?;
        let _ = std::fs::remove_dir_all(&call);
        Ok(answers)
    }

    fn describe(&self) -> String {
        format!("command `{}`", self.command)
    }
}
