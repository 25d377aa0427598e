use super::*;

fn job(model: &str, format: &str, ratio: &str, prompt: &str) -> ProviderJob {
    let video = model == "motion";
    ProviderJob {
        generation_id: "gen_test".to_owned(),
        model_identifier: format!("tidegate/{model}-1"),
        model_type: if video {
            ModelType::Video
        } else {
            ModelType::Image
        },
        raw_model_id: model.to_owned(),
        prompt: prompt.to_owned(),
        ratio: ratio.to_owned(),
        output_format: format.to_owned(),
        output_number: 1,
        input_files: Vec::new(),
        last_frame: None,
        duration: video.then_some(2),
        resolution: video.then(|| "240p".to_owned()),
        generate_audio: false,
        specific: serde_json::Map::new(),
    }
}

/// Top-level boxes as (type, payload).
fn boxes(mut bytes: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut found = Vec::new();
    while bytes.len() >= 8 {
        let size = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert!(size >= 8 && size <= bytes.len(), "box size {size}");
        found.push((bytes[4..8].try_into().unwrap(), &bytes[8..size]));
        bytes = &bytes[size..];
    }
    assert!(bytes.is_empty(), "trailing bytes after the last box");
    found
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn every_image_format_decodes_at_the_requested_ratio() {
    let cases = [
        ("pattern", "png", "16:9", (768, 432)),
        ("pattern", "jpg", "3:4", (576, 768)),
        ("pattern", "webp", "1:1", (768, 768)),
        ("gradient", "png", "4:3", (768, 576)),
        ("gradient", "jpg", "9:16", (432, 768)),
        ("gradient", "webp", "3:2", (768, 512)),
    ];
    for (model, format, ratio, size) in cases {
        let file = render(&job(model, format, ratio, "a lighthouse at dusk"), 0).unwrap();
        assert_eq!(file.extension, format);
        let image = image::load_from_memory(&file.bytes).unwrap();
        assert_eq!((image.width(), image.height()), size, "{model} {format}");
    }
}

#[test]
fn the_same_job_renders_the_same_bytes_and_other_inputs_change_them() {
    let base = job("pattern", "png", "1:1", "a lighthouse at dusk");
    let first = render(&base, 0).unwrap().bytes;
    assert_eq!(first, render(&base, 0).unwrap().bytes);

    let other_prompt = job("pattern", "png", "1:1", "a forest in spring");
    assert_ne!(first, render(&other_prompt, 0).unwrap().bytes);
    assert_ne!(first, render(&base, 1).unwrap().bytes);
    let mut seeded = base.clone();
    seeded.specific.insert("seed".to_owned(), 42.into());
    assert_ne!(first, render(&seeded, 0).unwrap().bytes);
}

#[test]
fn the_mono_palette_renders_only_greys() {
    let mut mono = job("pattern", "png", "16:9", "a lighthouse at dusk");
    mono.specific.insert("palette".to_owned(), "mono".into());
    let image = image::load_from_memory(&render(&mono, 0).unwrap().bytes).unwrap();
    assert!(
        image
            .to_rgb8()
            .pixels()
            .all(|p| p[0] == p[1] && p[1] == p[2])
    );
}

#[test]
fn a_gif_video_has_eight_frames_per_second() {
    use image::AnimationDecoder;
    let file = render(&job("motion", "gif", "16:9", "waves"), 0).unwrap();
    let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(file.bytes)).unwrap();
    let frames = decoder.into_frames().collect_frames().unwrap();
    assert_eq!(frames.len(), 16);
    assert_eq!(frames[0].buffer().dimensions(), (426, 240));
    assert_ne!(frames[0].buffer(), frames[4].buffer());
}

#[test]
fn an_mp4_video_has_an_h264_track_with_a_sample_per_frame() {
    let file = render(&job("motion", "mp4", "9:16", "waves"), 0).unwrap();
    assert_eq!(file.extension, "mp4");
    let top = boxes(&file.bytes);
    let kinds: Vec<&[u8; 4]> = top.iter().map(|(kind, _)| kind).collect();
    assert_eq!(kinds, [b"ftyp", b"moov", b"mdat"]);

    let moov = top[1].1;
    assert!(find(moov, b"avc1").is_some() && find(moov, b"avcC").is_some());
    let stsz = find(moov, b"stsz").unwrap() + 4;
    let count = u32::from_be_bytes(moov[stsz + 8..stsz + 12].try_into().unwrap());
    assert_eq!(count, 2 * FPS);
    let stco = find(moov, b"stco").unwrap() + 4;
    let offset = u32::from_be_bytes(moov[stco + 8..stco + 12].try_into().unwrap()) as usize;
    let mdat_payload = file.bytes.len() - top[2].1.len();
    assert_eq!(offset, mdat_payload);
}

#[test]
fn video_sizes_follow_the_resolution_and_images_the_long_side() {
    let mut tall = job("motion", "mp4", "9:16", "x");
    tall.resolution = Some("360p".to_owned());
    assert_eq!(dimensions(&tall), (360, 640));
    assert_eq!(dimensions(&job("motion", "mp4", "16:9", "x")), (426, 240));
    assert_eq!(dimensions(&job("motion", "gif", "1:1", "x")), (240, 240));
    assert_eq!(dimensions(&job("pattern", "png", "2:3", "x")), (512, 768));
}

#[test]
fn unknown_models_and_formats_fail() {
    let cases = [
        job("sketch", "png", "1:1", "x"),
        job("pattern", "bmp", "1:1", "x"),
        job("pattern", "mp4", "1:1", "x"),
        job("motion", "png", "1:1", "x"),
    ];
    for case in cases {
        let err = render(&case, 0).unwrap_err();
        assert!(matches!(err, ProviderError::Failed(_)), "{err:?}");
    }
}
