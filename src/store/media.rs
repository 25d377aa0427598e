//! Generated files on disk: `<data_dir>/media/<generation_id>/<n>.<ext>`, served at
//! `/media/<generation_id>/<n>.<ext>`. Generation ids are random UUIDs, so the URLs cannot be
//! guessed.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::domain::generation::OutputFile;

#[derive(Clone, Debug)]
pub struct MediaStore {
    root: PathBuf,
}

/// `<n>.<ext>` with a short lowercase extension: the only file names the store writes.
fn valid_name(name: &str) -> bool {
    let Some((n, ext)) = name.split_once('.') else {
        return false;
    };
    !n.is_empty()
        && n.len() <= 3
        && n.bytes().all(|b| b.is_ascii_digit())
        && (1..=5).contains(&ext.len())
        && ext
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn valid_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok() && id == id.to_ascii_lowercase()
}

impl MediaStore {
    pub fn new(data_dir: &Path) -> MediaStore {
        MediaStore {
            root: data_dir.join("media"),
        }
    }

    /// Writes the files of a generation (each to a temporary name, then renamed) and returns their
    /// names.
    pub fn write(&self, generation_id: &str, files: &[OutputFile]) -> io::Result<Vec<String>> {
        if !valid_id(generation_id) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad generation id",
            ));
        }
        let dir = self.root.join(generation_id);
        std::fs::create_dir_all(&dir)?;
        Self::write_all(&dir, files).inspect_err(|_| {
            // Nothing half-written stays behind.
            let _ = std::fs::remove_dir_all(&dir);
        })
    }

    fn write_all(dir: &Path, files: &[OutputFile]) -> io::Result<Vec<String>> {
        let mut names = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            let name = format!("{i}.{}", file.extension);
            if !valid_name(&name) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "bad file extension",
                ));
            }
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, &file.bytes)?;
            std::fs::rename(&tmp, dir.join(&name))?;
            names.push(name);
        }
        Ok(names)
    }

    /// The path of a stored file, when the id and name are well formed and the file exists.
    pub fn file(&self, generation_id: &str, name: &str) -> Option<PathBuf> {
        if !valid_id(generation_id) || !valid_name(name) {
            return None;
        }
        let path = self.root.join(generation_id).join(name);
        path.is_file().then_some(path)
    }

    /// Deletes a generation's files; returns how many there were.
    pub fn remove(&self, generation_id: &str) -> io::Result<usize> {
        if !valid_id(generation_id) {
            return Ok(0);
        }
        let dir = self.root.join(generation_id);
        let count = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| valid_name(&e.file_name().to_string_lossy()))
                .count(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        std::fs::remove_dir_all(&dir)?;
        Ok(count)
    }

    /// Whether the media directory exists (a plain backup file has none beside it).
    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }

    /// Copies every stored file (well-formed generation directories and file names only) into
    /// `<target_dir>/media/`, keeping the layout; returns (files, bytes) copied.
    pub fn copy_to(&self, target_dir: &Path) -> io::Result<(u64, u64)> {
        let target = target_dir.join("media");
        let (mut files, mut bytes) = (0, 0);
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let id = entry.file_name().to_string_lossy().into_owned();
            if !valid_id(&id) || !entry.file_type()?.is_dir() {
                continue;
            }
            let into = target.join(&id);
            std::fs::create_dir_all(&into)?;
            for file in std::fs::read_dir(entry.path())? {
                let file = file?;
                let name = file.file_name().to_string_lossy().into_owned();
                if !valid_name(&name) || !file.file_type()?.is_file() {
                    continue;
                }
                bytes += std::fs::copy(file.path(), into.join(&name))?;
                files += 1;
            }
        }
        Ok((files, bytes))
    }

    /// A real write, read back and delete under the media directory; returns how long it took.
    pub fn probe(&self) -> Result<Duration, String> {
        let started = Instant::now();
        std::fs::create_dir_all(&self.root).map_err(|e| e.kind().to_string())?;
        let path = self
            .root
            .join(format!(".probe-{}", uuid::Uuid::new_v4().simple()));
        let payload = b"tidegate storage probe";
        let result = std::fs::write(&path, payload)
            .and_then(|()| std::fs::read(&path))
            .map_err(|e| e.kind().to_string())
            .and_then(|read| {
                if read == payload {
                    Ok(())
                } else {
                    Err("read back different bytes".to_owned())
                }
            });
        let removed = std::fs::remove_file(&path).map_err(|e| e.kind().to_string());
        result.and(removed).map(|()| started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_names_are_served() {
        let dir = tempfile::tempdir().unwrap();
        let media = MediaStore::new(dir.path());
        let id = "0b7f6a8e-4c1d-4f0e-9a39-1c2d3e4f5a6b";
        let names = media
            .write(
                id,
                &[OutputFile {
                    bytes: vec![1, 2, 3],
                    extension: "png".into(),
                }],
            )
            .unwrap();
        assert_eq!(names, ["0.png"]);
        assert!(media.file(id, "0.png").is_some());
        for bad in ["../0.png", "0.png/..", ".0.png.tmp", "x.png", "0"] {
            assert!(media.file(id, bad).is_none(), "{bad}");
        }
        assert!(media.file("../../etc", "0.png").is_none());
        assert_eq!(media.remove(id).unwrap(), 1);
        assert!(media.file(id, "0.png").is_none());
        assert!(media.probe().is_ok());
    }
}
