//! Reads a GGUF file's header and metadata without loading its weights, so pai
//! can tell a chat model from an embedding model, list what is installed, and
//! reject a truncated or foreign file with a clear message before llama.cpp
//! sees it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use pai_core::Error;

const MAGIC: &[u8; 4] = b"GGUF";

#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// Arrays are not kept (the vocabulary alone is 250k strings); only their length.
    Array {
        len: u64,
    },
}

#[derive(Debug, Clone)]
pub struct GgufInfo {
    pub version: u32,
    pub tensor_count: u64,
    pub metadata: BTreeMap<String, MetaValue>,
}

/// What a model file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Chat,
    Embedding,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Chat => "chat",
            ModelKind::Embedding => "embedding",
        }
    }
}

/// Encoder-only architectures: they have no causal LM head and cannot chat.
const ENCODER_ARCHS: &[&str] =
    &["bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3", "modern-bert", "neo-bert", "eurobert"];

impl GgufInfo {
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.metadata.get(key)? {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        match self.metadata.get(key)? {
            MetaValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn architecture(&self) -> &str {
        self.str("general.architecture").unwrap_or("unknown")
    }

    /// Per-architecture key, e.g. `arch_key("context_length")` → `llama.context_length`.
    pub fn arch_int(&self, suffix: &str) -> Option<i64> {
        self.int(&format!("{}.{suffix}", self.architecture()))
    }

    pub fn kind(&self) -> ModelKind {
        let arch = self.architecture();
        let pooled = self.get(&format!("{arch}.pooling_type")).is_some();
        let non_causal = self.get(&format!("{arch}.attention.causal")) == Some(&MetaValue::Bool(false));
        if ENCODER_ARCHS.contains(&arch) || pooled || non_causal { ModelKind::Embedding } else { ModelKind::Chat }
    }

    pub fn name(&self) -> Option<&str> {
        self.str("general.name")
    }
}

/// Reads the header of the GGUF file at `path`.
pub fn read_info(path: &Path) -> Result<GgufInfo, Error> {
    let file = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::not_found(format!(
                "model file {} does not exist; run `make fetch-models` for the defaults or `pai model pull URL`",
                path.display()
            ))
        } else {
            Error::invalid(format!("cannot read model file {}: {e}", path.display()))
        }
    })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = Reader { inner: BufReader::new(file), remaining: size };
    parse(&mut reader).map_err(|why| {
        Error::invalid(format!(
            "{} is not a usable GGUF model ({why}); the file may be truncated or of another format: download it again",
            path.display()
        ))
    })
}

struct Reader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Reader<R> {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, String> {
        if n > self.remaining {
            return Err(format!("needs {n} more bytes but the file ends first"));
        }
        let mut buf = vec![0; n as usize];
        self.inner.read_exact(&mut buf).map_err(|e| e.to_string())?;
        self.remaining -= n;
        Ok(buf)
    }
    fn skip(&mut self, n: u64) -> Result<(), String> {
        if n > self.remaining {
            return Err("the file ends inside its metadata".into());
        }
        std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink()).map_err(|e| e.to_string())?;
        self.remaining -= n;
        Ok(())
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.bytes(N as u64)?.try_into().expect("length checked"))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn string(&mut self) -> Result<String, String> {
        let len = self.u64()?;
        String::from_utf8(self.bytes(len)?).map_err(|_| "a metadata string is not UTF-8".to_string())
    }
}

/// Size in bytes of a fixed-size GGUF value type, `None` for string/array.
fn scalar_size(ty: u32) -> Result<Option<u64>, String> {
    Ok(match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4 | 5 | 6 => Some(4),
        10..=12 => Some(8),
        8 | 9 => None,
        other => return Err(format!("unknown metadata type {other}")),
    })
}

fn value<R: Read>(r: &mut Reader<R>, ty: u32) -> Result<MetaValue, String> {
    Ok(match ty {
        0 => MetaValue::Int(r.array::<1>()?[0] as i64),
        1 => MetaValue::Int(r.array::<1>()?[0] as i8 as i64),
        2 => MetaValue::Int(u16::from_le_bytes(r.array()?) as i64),
        3 => MetaValue::Int(i16::from_le_bytes(r.array()?) as i64),
        4 => MetaValue::Int(r.u32()? as i64),
        5 => MetaValue::Int(i32::from_le_bytes(r.array()?) as i64),
        6 => MetaValue::Float(f32::from_le_bytes(r.array()?) as f64),
        7 => MetaValue::Bool(r.array::<1>()?[0] != 0),
        8 => MetaValue::Str(r.string()?),
        9 => {
            let elem = r.u32()?;
            let len = r.u64()?;
            match scalar_size(elem)? {
                Some(size) => r.skip(size.checked_mul(len).ok_or("array too large")?)?,
                None => {
                    for _ in 0..len {
                        value(r, elem)?;
                    }
                }
            }
            MetaValue::Array { len }
        }
        10 => MetaValue::Int(r.u64()? as i64),
        11 => MetaValue::Int(i64::from_le_bytes(r.array()?)),
        12 => MetaValue::Float(f64::from_le_bytes(r.array()?)),
        other => return Err(format!("unknown metadata type {other}")),
    })
}

fn parse<R: Read>(r: &mut Reader<R>) -> Result<GgufInfo, String> {
    if &r.array::<4>().map_err(|_| "the file is too short to be GGUF".to_string())? != MAGIC {
        return Err("it does not start with the GGUF magic bytes".into());
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(format!("GGUF version {version} is not supported (2 and 3 are)"));
    }
    let tensor_count = r.u64()?;
    let kv_count = r.u64()?;
    let mut metadata = BTreeMap::new();
    for _ in 0..kv_count {
        let key = r.string()?;
        let ty = r.u32()?;
        metadata.insert(key, value(r, ty)?);
    }
    Ok(GgufInfo { version, tensor_count, metadata })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv_str(key: &str, val: &str) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((key.len() as u64).to_le_bytes());
        out.extend(key.as_bytes());
        out.extend(8u32.to_le_bytes());
        out.extend((val.len() as u64).to_le_bytes());
        out.extend(val.as_bytes());
        out
    }

    fn header(kvs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend(0u64.to_le_bytes());
        out.extend((kvs.len() as u64).to_le_bytes());
        kvs.iter().for_each(|kv| out.extend(kv));
        out
    }

    fn parse_bytes(bytes: &[u8]) -> Result<GgufInfo, String> {
        parse(&mut Reader { inner: bytes, remaining: bytes.len() as u64 })
    }

    #[test]
    fn reads_architecture_and_kind() {
        let info = parse_bytes(&header(&[kv_str("general.architecture", "llama")])).unwrap();
        assert_eq!(info.architecture(), "llama");
        assert_eq!(info.kind(), ModelKind::Chat);
        let info = parse_bytes(&header(&[kv_str("general.architecture", "bert")])).unwrap();
        assert_eq!(info.kind(), ModelKind::Embedding);
    }

    #[test]
    fn rejects_foreign_and_truncated_files() {
        assert!(parse_bytes(b"PK\x03\x04 not a model").unwrap_err().contains("magic"));
        let full = header(&[kv_str("general.architecture", "llama")]);
        let err = parse_bytes(&full[..full.len() - 3]).unwrap_err();
        assert!(err.contains("ends"), "{err}");
        assert!(parse_bytes(b"GG").unwrap_err().contains("too short"));
    }
}
