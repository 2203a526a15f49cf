import pytest

from hyperalign.config import (
    ConfigError,
    apply_overrides,
    dump_config,
    list_presets,
    load_config,
)

ABLATIONS = ["ablation-no-ord", "ablation-no-agg", "ablation-no-both", "ablation-eu-mp", "ablation-eu-ca"]


def test_presets_are_listed_and_valid():
    names = list_presets()
    for required in ["h2arn", "h2arn-cpu", *ABLATIONS]:
        assert required in names
    for name in names:
        load_config(name)


def test_paper_preset_has_the_paper_settings():
    cfg = load_config("h2arn")
    assert (cfg.model.dim, cfg.model.context.heads, cfg.model.context.layers) == (512, 64, 6)
    assert cfg.optim.schedule == "linear"
    assert (cfg.optim.lr, cfg.optim.betas, cfg.optim.epochs, cfg.optim.batch_size) == (2e-3, (0.91, 0.9993), 100, 256)
    assert (cfg.loss.temperature, cfg.loss.ordering_weight, cfg.loss.aperture_K) == (0.07, 0.2, 0.1)
    assert (cfg.model.space.curvature_init, cfg.model.space.curvature_min, cfg.model.space.curvature_max) == (1.0, 0.1, 10.0)
    assert cfg.model.points.num_tokens == 100 and cfg.optim.warmup_frac == 0.1


def test_ablations_differ_from_full_model_only_where_they_should():
    full = load_config("h2arn-cpu")
    expected = {
        "ablation-no-ord": ("lorentz", "contribution", 0.0),
        "ablation-no-agg": ("lorentz", "mean", 0.2),
        "ablation-no-both": ("lorentz", "mean", 0.0),
        "ablation-eu-mp": ("euclidean", "mean", 0.0),
        "ablation-eu-ca": ("euclidean", "contribution", 0.0),
    }
    for name, (space, agg, lam) in expected.items():
        cfg = load_config(name)
        assert (cfg.model.space.kind, cfg.model.aggregation.kind, cfg.loss.ordering_weight) == (space, agg, lam)
        assert cfg.model.points == full.model.points and cfg.optim == full.optim
        assert cfg.model.context == full.model.context and cfg.data == full.data


def test_cpu_preset_keeps_the_paper_loss_and_optimiser_and_says_what_it_changes():
    paper, cpu = load_config("h2arn"), load_config("h2arn-cpu")
    assert (cpu.optim.lr, cpu.optim.betas, cpu.optim.warmup_frac) == (paper.optim.lr, paper.optim.betas, 0.1)
    assert cpu.loss == paper.loss and cpu.model.space == paper.model.space
    assert cpu.model.aggregation == paper.model.aggregation
    assert cpu.optim.schedule == "cosine"  # explicit in its file, not the schema default
    assert (cpu.model.dim, cpu.model.context.heads, cpu.model.context.layers) == (128, 4, 2)
    for name in ABLATIONS:
        assert load_config(name).optim.schedule == "cosine"


def test_schedule_default_is_the_papers_linear_decay():
    from hyperalign.config import TrainConfig

    assert TrainConfig().optim.schedule == "linear"
    with pytest.raises(ConfigError, match="optim.schedule"):
        load_config("h2arn-cpu", ["optim.schedule=step"])


def test_base_inheritance_and_overrides(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("base: h2arn-cpu\noptim: {lr: 1.0e-4}\n")
    cfg = load_config(f, ["optim.epochs=3", "model.context.layers=1"])
    assert cfg.optim.lr == 1e-4 and cfg.optim.epochs == 3 and cfg.model.context.layers == 1
    assert cfg.model.dim == load_config("h2arn-cpu").model.dim
    # each load is a fresh object
    assert load_config("h2arn-cpu") is not load_config("h2arn-cpu")


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config("h2arn-cpu", ["seed=7"])
    f = tmp_path / "resolved.yaml"
    f.write_text(dump_config(cfg))
    assert load_config(f) == cfg


@pytest.mark.parametrize(
    "text, field",
    [
        ("optim: {lr: -1}\n", "optim.lr"),
        ("optim: {lr: fast}\n", "optim.lr"),
        ("model: {context: {layerz: 2}}\n", "model.context.layerz"),
        ("model: {space: {kind: spherical}}\n", "model.space.kind"),
        ("model: {space: {curvature_init: 50}}\n", "curvature_init"),
        ("data: {channels: 6}\n", "in_channels"),
        ("model: {space: {kind: euclidean}}\n", "ordering_weight"),
    ],
)
def test_config_errors_name_file_and_field(tmp_path, text, field):
    f = tmp_path / "bad.yaml"
    f.write_text("base: h2arn-cpu\n" + text if "channels: 6" not in text else "base: h2arn-cpu\nmodel: {points: {in_channels: 3}}\n")
    with pytest.raises(ConfigError) as e:
        load_config(f)
    assert "bad.yaml" in str(e.value) and field in str(e.value)


def test_unreadable_and_unknown_configs(tmp_path):
    with pytest.raises(ConfigError, match="no such file, and not a preset"):
        load_config("does-not-exist")
    bad = tmp_path / "broken.yaml"
    bad.write_text("optim: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml: cannot read YAML"):
        load_config(bad)
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="circular"):
        load_config(loop)
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["optim.lr"])
