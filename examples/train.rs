//! Trains the voice branch, optionally cross-validating it first.
//!
//! ```sh
//! # 5-fold speaker-independent cross-validation on RAVDESS, then the final model on all actors:
//! cargo run --release --example train -- --ravdess ../shared/data/ravdess/speech \
//!     --config configs/voice.json --cv 5 --out runs/voice
//! # Your own data (CSV manifest face,voice,gender,emotion[,group]):
//! cargo run --release --example train -- --manifest data.csv --out runs/mine
//! ```
//!
//! Writes to `--out`: `voice.safetensors` + `voice.json` (the model and its config, loadable by
//! the analyzer and `evaluate --models`), `train_log.jsonl` (one JSON line per epoch), and with
//! `--cv`: `cv_report.json`, `cv_table.txt`, `cv_confusion.svg`, `cv_roc_fold1.svg` and
//! `fold_N.jsonl` logs.

use std::path::{Path, PathBuf};

use clap::Parser;
use facevox::model::VoiceModelFile;
use facevox::training::data::{
    load_crema_d, load_emodb, load_manifest, load_ravdess, load_speech_accent, write_manifest,
    FeatureCache, LoadReport, RavdessFilter, Sample,
};
use facevox::training::eval::{
    plot_confusion_matrix, plot_roc_curve, stratified_split, to_json_pretty,
};
use facevox::training::{
    corpus_of, cross_validate_voice_with_extra, train_voice_members, VoiceExample,
    VoiceTrainingConfig,
};

// Training allocates and frees activation-sized buffers every step; mimalloc keeps them in
// process instead of handing pages back to the kernel and faulting them in again (measured on
// `cargo bench --bench voice_train`, with the im2col convolution op: training step 249 ms with
// glibc's allocator, 69 ms with mimalloc).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(about = "Train (and cross-validate) the facevox voice branch")]
struct Args {
    /// RAVDESS folder (speech files, any container); labels come from the file names.
    #[arg(long)]
    ravdess: Option<PathBuf>,
    /// CREMA-D AudioWAV folder.
    #[arg(long)]
    crema_d: Option<PathBuf>,
    /// Berlin EmoDB wav folder.
    #[arg(long)]
    emodb: Option<PathBuf>,
    /// CSV manifest `face,voice,gender,emotion[,group]`.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Speech Accent Archive folder (`speakers.csv` + `clips/`): perceived gender only.
    #[arg(long)]
    speech_accent: Option<PathBuf>,
    /// Hold this share of the accent-archive speakers out of training (stratified by gender,
    /// seeded by --fold-seed) and write them to `<out>/accent_heldout.csv`, a manifest for
    /// `evaluate`.
    #[arg(long)]
    accent_holdout: Option<f64>,
    /// Training config (JSON `VoiceTrainingConfig`); defaults when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Run k-fold cross-validation by speaker before training the final model.
    #[arg(long)]
    cv: Option<usize>,
    /// Only the first N folds (quick experiments; the report then covers those folds).
    #[arg(long)]
    max_folds: Option<usize>,
    /// Seed of the speaker-to-fold assignment.
    #[arg(long, default_value_t = 42)]
    fold_seed: u64,
    /// Training speakers per fold held out for early stopping (0 = train a fixed schedule).
    #[arg(long, default_value_t = 0)]
    inner_val: usize,
    /// Cross-validate over this corpus only (`actor` for RAVDESS, `accent`, `crema`, `emodb`:
    /// the group id's prefix); the other corpora's clips join every fold's training set.
    #[arg(long)]
    cv_corpus: Option<String>,
    /// Skip the final model (cross-validation only).
    #[arg(long)]
    cv_only: bool,
    /// Override the config's epoch count.
    #[arg(long)]
    epochs: Option<usize>,
    /// Override the config's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Save the run's whole state in this folder after every epoch; the same command run
    /// again goes on from the last saved epoch (a finished run's checkpoint gives its result
    /// at once). A checkpoint of another run there is refused.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Override the config's member count (networks averaged).
    #[arg(long)]
    members: Option<usize>,
    /// Feature cache folder.
    #[arg(long, default_value = "target/facevox-cache")]
    cache: PathBuf,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg: VoiceTrainingConfig = match &args.config {
        Some(p) => serde_json::from_str(&std::fs::read_to_string(p)?)?,
        None => VoiceTrainingConfig::default(),
    };
    if let Some(e) = args.epochs {
        cfg.train.epochs = e;
    }
    if let Some(s) = args.seed {
        cfg.train.seed = s;
    }
    cfg.train.checkpoint = args.checkpoint.clone();
    if let Some(m) = args.members {
        cfg.members = m;
    }
    cfg.validate()?;
    std::fs::create_dir_all(&args.out)?;

    let mut samples: Vec<Sample> = Vec::new();
    if let Some(dir) = &args.ravdess {
        let loaded = load_ravdess(dir, &RavdessFilter::speech())?;
        eprintln!(
            "RAVDESS: {} speech clips from {}",
            loaded.len(),
            dir.display()
        );
        samples.extend(loaded.into_iter().map(|(s, _)| s));
    }
    type Loader = fn(&Path) -> facevox::Result<(Vec<Sample>, LoadReport)>;
    let loaders: [(&str, &Option<PathBuf>, Loader); 2] = [
        ("CREMA-D", &args.crema_d, |d| load_crema_d(d)),
        ("EmoDB", &args.emodb, |d| load_emodb(d)),
    ];
    for (name, dir, loader) in loaders {
        if let Some(dir) = dir {
            let (s, report) = loader(dir)?;
            eprintln!(
                "{name}: {} clips, {} unparseable names, unmapped labels {:?}",
                report.loaded,
                report.unparseable.len(),
                report.unmapped
            );
            samples.extend(s);
        }
    }
    if let Some(dir) = &args.speech_accent {
        // Absolute paths, so the held-out manifest resolves from any folder.
        let (mut s, _, report) = load_speech_accent(dir.canonicalize()?)?;
        eprintln!(
            "Speech Accent Archive: {} speakers, {} rows skipped (missing clip), unmapped {:?}",
            report.loaded,
            report.unparseable.len(),
            report.unmapped
        );
        if let Some(f) = args.accent_holdout {
            let strata: Vec<usize> = s
                .iter()
                .map(|x| x.gender.map_or(2, |g| g as usize))
                .collect();
            let (keep, held) = stratified_split(&strata, f, args.fold_seed)?;
            let heldout: Vec<Sample> = held.iter().map(|&i| s[i].clone()).collect();
            let path = args.out.join("accent_heldout.csv");
            write_manifest(&path, &heldout)?;
            eprintln!(
                "  {} speakers held out of training -> {}",
                heldout.len(),
                path.display()
            );
            s = keep.iter().map(|&i| s[i].clone()).collect();
        }
        samples.extend(s);
    }
    if let Some(m) = &args.manifest {
        let s = load_manifest(m)?;
        eprintln!("manifest: {} rows from {}", s.len(), m.display());
        samples.extend(s);
    }
    samples.retain(|s| s.voice.is_some());
    if samples.is_empty() {
        return Err(
            "no voice samples: pass --ravdess, --crema-d, --emodb, --speech-accent or --manifest"
                .into(),
        );
    }

    let cache = FeatureCache::new(&args.cache, &cfg.mel)?;
    eprintln!(
        "features: {} clips (cache {})",
        samples.len(),
        cache.dir().display()
    );
    let paths: Vec<PathBuf> = samples.iter().map(|s| s.voice.clone().unwrap()).collect();
    let mels = cache.get_all(&paths);
    let mut examples = Vec::with_capacity(samples.len());
    let mut failed = 0;
    for ((s, mel), path) in samples.iter().zip(mels).zip(&paths) {
        match mel {
            Ok(mel) => examples.push(VoiceExample {
                mel,
                gender: s.gender,
                emotion: s.emotion,
                group: s.group.clone(),
            }),
            Err(e) => {
                failed += 1;
                eprintln!("  skipped {}: {e}", path.display());
            }
        }
    }
    let frames: Vec<usize> = examples
        .iter()
        .map(|e: &VoiceExample| e.mel.n_frames)
        .collect();
    eprintln!(
        "{} clips usable ({failed} skipped); {:.0} s of speech after trimming",
        examples.len(),
        frames.iter().sum::<usize>() as f64 * cfg.mel.hop_length as f64
            / cfg.mel.sample_rate as f64
    );

    if let Some(k) = args.cv {
        let (folded, extra): (Vec<VoiceExample>, Vec<VoiceExample>) = match &args.cv_corpus {
            Some(c) => examples
                .iter()
                .cloned()
                .partition(|e| corpus_of(e.group.as_deref()) == c),
            None => (examples.clone(), Vec::new()),
        };
        if folded.is_empty() {
            return Err(
                format!("--cv-corpus {:?}: no clips of that corpus", args.cv_corpus).into(),
            );
        }
        eprintln!(
            "cross-validating on {} clips; {} clips of other corpora train in every fold",
            folded.len(),
            extra.len()
        );
        let cv = cross_validate_voice_with_extra(
            &cfg,
            &folded,
            &extra,
            k,
            args.fold_seed,
            args.inner_val,
            Some(args.out.as_path()),
            args.max_folds,
        )?;
        to_json_pretty(&cv, args.out.join("cv_report.json"))?;
        let mut table = format!("{}\n\n", cv.protocol);
        match (&cv.emotion, &cv.gender) {
            (Some(e), Some(g)) => table.push_str(&format!(
                "Emotion ({} classes), per fold and mean ± std:\n{e}\nGender:\n{g}\n",
                cfg.emotions.len()
            )),
            _ => {
                for f in &cv.folds {
                    table.push_str(&format!(
                        "fold {}: emotion\n{}\ngender\n{}\n",
                        f.fold, f.emotion, f.gender
                    ));
                }
            }
        }
        for (g, accs) in &cv.emotion_accuracy_by_gender {
            let mean = accs.iter().sum::<f64>() / accs.len() as f64;
            table.push_str(&format!(
                "emotion accuracy, {g} speakers: mean {mean:.4}, per fold {accs:.4?}\n"
            ));
        }
        println!("{table}");
        std::fs::write(args.out.join("cv_table.txt"), &table)?;
        let names: Vec<String> = cfg.emotions.iter().map(|e| e.to_string()).collect();
        let mut pooled = cv.folds[0].emotion.confusion_matrix()?;
        for f in &cv.folds[1..] {
            pooled.add(&f.emotion.confusion_matrix()?)?;
        }
        plot_confusion_matrix(
            &pooled,
            &names,
            "Voice emotion, pooled over speaker-independent folds",
            args.out.join("cv_confusion.svg"),
        )?;
        plot_roc_curve(
            &cv.folds[0].gender.roc,
            "Voice gender ROC, fold 1",
            args.out.join("cv_roc_fold1.svg"),
        )?;
    }
    if args.cv_only {
        return Ok(());
    }

    eprintln!(
        "training the final model ({} member{}) on all {} clips",
        cfg.members,
        if cfg.members == 1 { "" } else { "s" },
        examples.len()
    );
    let outcomes = train_voice_members(
        &cfg,
        &examples,
        &[],
        Some(&args.out.join("train_log.jsonl")),
    )?;
    let outcome = &outcomes[0];
    let file = VoiceModelFile {
        tta: cfg.tta.clone(),
        provenance: serde_json::json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "train": cfg.train,
            "clips": examples.len(),
            "speakers": examples.iter().filter_map(|e| e.group.clone()).collect::<std::collections::BTreeSet<_>>().len(),
            "epochs_run": outcome.history.len(),
            "final_loss": outcome.history.last().map(|h| h.loss),
        }),
        ..VoiceModelFile::new(
            cfg.model.clone(),
            cfg.mel.clone(),
            cfg.emotions.clone(),
            cfg.members,
        )
    };
    let varmaps: Vec<_> = outcomes.iter().map(|o| &o.varmap).collect();
    file.save(&varmaps, &args.out.join("voice"))?;
    eprintln!("saved {}", args.out.join("voice.safetensors").display());
    Ok(())
}
