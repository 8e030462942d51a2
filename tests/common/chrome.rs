//! A real browser for the portal journey: Debian's headless chromium, driven through
//! chromedriver (W3C WebDriver) with fantoccini. chromedriver picks its own loopback port
//! (`--port=0`, read back from the line announcing it), so there is no pick-then-bind race, and it
//! runs in a process group of its own that [`Chrome`]'s `Drop` kills whole: chromedriver
//! and every chromium process it started, whatever happened to the test. Downloads land,
//! without a prompt, in a folder of their own beside the screenshots.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// The flags that keep chromium offline and quiet: the test machine has no network, and
/// without them chromium stalls on lookups (component updates, sync, QUIC probes).
const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1000,1000",
];

/// How long a page may take to show what the journey waits for.
const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// chromium under chromedriver; both end when this is dropped.
pub struct Chrome {
    pub client: Client,
    driver: Child,
    screenshots: PathBuf,
    downloads: PathBuf,
    taken: usize,
}

impl Chrome {
    /// Starts chromedriver and a chromium session whose profile, screenshots and
    /// downloads live in `dir`. None when either program is missing (a skip, or a failure in CI).
    pub async fn start(dir: &Path) -> Option<Chrome> {
        let chromium = super::require_tool("chromium")?;
        let chromedriver = super::require_tool("chromedriver")?;
        let mut driver = Command::new(chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own group, so Drop can end chromium with it.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let port = match driver_port(&mut driver) {
            Ok(port) => port,
            Err(why) => {
                kill_group(&mut driver);
                panic!("chromedriver did not start: {why}");
            }
        };
        let profile = dir.join("chromium-profile");
        let screenshots = dir.join("screenshots");
        std::fs::create_dir_all(&screenshots).unwrap();
        let downloads = dir.join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                // chromedriver also hands the folder to headless chromium, which would
                // otherwise drop downloads.
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                },
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let connected = tokio::time::timeout(
            PAGE_TIMEOUT * 3,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        let client = match connected {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                kill_group(&mut driver);
                panic!("chromium did not start a session: {e}");
            }
            Err(_) => {
                kill_group(&mut driver);
                panic!(
                    "chromium did not start a session within {:?}",
                    PAGE_TIMEOUT * 3
                );
            }
        };
        Some(Chrome {
            client,
            driver,
            screenshots,
            downloads,
            taken: 0,
        })
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("page loads");
    }

    /// Waits until an element matching `css` is on the page.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PAGE_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    /// Waits until the page's `h1` reads `title`.
    pub async fn wait_for_title(&self, title: &str) {
        self.wait_for_xpath(&format!("//h1[normalize-space()='{title}']"))
            .await;
    }

    /// Waits until an element matching `xpath` is on the page.
    pub async fn wait_for_xpath(&self, xpath: &str) {
        if let Err(e) = self
            .client
            .wait()
            .at_most(PAGE_TIMEOUT)
            .for_element(Locator::XPath(xpath))
            .await
        {
            let source = self.client.source().await.unwrap_or_default();
            panic!("no {xpath} ({e}); the page is:\n{source}");
        }
    }

    /// Types `text` into the field matching `css`, as a person would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    /// The visible text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css)
            .await
            .text()
            .await
            .unwrap()
            .trim()
            .to_owned()
    }

    /// The page's body text, as a person reads it.
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    /// Saves the page as `NN-step.png` in the screenshots folder.
    pub async fn screenshot(&mut self, step: &str) -> PathBuf {
        self.taken += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = self
            .screenshots
            .join(format!("{:02}-{step}.png", self.taken));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Waits until a download whose name ends in `suffix` is complete (chromium writes
    /// into `NAME.crdownload` and renames it when done) and returns its path.
    pub async fn downloaded(&self, suffix: &str) -> PathBuf {
        let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
        loop {
            let names: Vec<String> = std::fs::read_dir(&self.downloads)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            let in_progress = names.iter().any(|n| n.ends_with(".crdownload"));
            if !in_progress && let Some(done) = names.iter().find(|n| n.ends_with(suffix)) {
                return self.downloads.join(done);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no finished *{suffix} download within {PAGE_TIMEOUT:?}; the folder holds {names:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the session politely; Drop still kills whatever is left.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.clone().close()).await;
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// The port chromedriver announces ("… started successfully on port N.").
fn driver_port(driver: &mut Child) -> Result<u16, String> {
    let stdout = driver.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // A thread, so a silent chromedriver cannot hang the test; it keeps draining stdout
    // afterwards so chromedriver never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            // The first line also names a port: the one asked for, 0.
            let port = line
                .split("started successfully on port ")
                .nth(1)
                .and_then(|rest| rest.trim_end_matches('.').trim().parse::<u16>().ok());
            if let Some(port) = port {
                let _ = tx.send(port);
                break;
            }
        }
        for _ in lines {}
    });
    rx.recv_timeout(Duration::from_secs(20))
        .map_err(|_| "it reported no port within 20 s".to_owned())
}

/// Kills chromedriver's whole process group (chromium's processes are in it) and reaps it.
fn kill_group(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}
