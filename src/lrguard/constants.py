"""Every on-disk name lrguard reads or writes, defined once.

Run-directory layout of the trainers (YOLOv5 and Ultralytics), checkpoint key names and results.csv
column prefixes live here so that readers, the checkpoint inspector and the tests agree on them.
"""

# --- run directory files -------------------------------------------------------------------------
RESULTS_CSV = "results.csv"
YOLOV5_OPT_YAML = "opt.yaml"
YOLOV5_HYP_YAML = "hyp.yaml"
ULTRALYTICS_ARGS_YAML = "args.yaml"
WEIGHTS_DIR = "weights"
LAST_PT = "last.pt"
BEST_PT = "best.pt"
EPOCH_PT_PREFIX = "epoch"  # YOLOv5 --save-period / Ultralytics save_period: epoch{N}.pt
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
TFEVENTS_PREFIX = "events.out.tfevents."
RUNS_DIR = "runs"

# --- results.csv columns -------------------------------------------------------------------------
EPOCH_COLUMN = "epoch"
TIME_COLUMN = "time"  # Ultralytics >= 8.3: seconds since the session started
YOLOV5_LR_PREFIX = "x/lr"  # x/lr0, x/lr1, x/lr2
ULTRALYTICS_LR_PREFIX = "lr/pg"  # lr/pg0 ... lr/pg7
TRAIN_LOSS_PREFIX = "train/"
VAL_LOSS_PREFIX = "val/"

# --- checkpoint keys -----------------------------------------------------------------------------
CKPT_EPOCH = "epoch"
CKPT_OPTIMIZER = "optimizer"
CKPT_PARAM_GROUPS = "param_groups"
CKPT_UPDATES = "updates"
CKPT_YOLOV5_OPT = "opt"
CKPT_ULTRALYTICS_ARGS = "train_args"
CKPT_ULTRALYTICS_RESULTS = "train_results"
CKPT_VERSION = "version"
CKPT_DATE = "date"
CKPT_EMA = "ema"
CKPT_MODEL = "model"
CKPT_BEST_FITNESS = "best_fitness"
CKPT_SCALER = "scaler"

# --- lrguard's own outputs -----------------------------------------------------------------------
MANIFEST_SUFFIX = ".lrguard.json"  # sidecar written next to an atomically saved checkpoint
GUARD_EVENTS_JSONL = "lrguard-events.jsonl"  # the guard's and `lrguard run`'s JSON-lines events, in the run directory
# verified copy of a checkpoint a trainer overwrites in place (not "last*.pt": YOLOv5 and Ultralytics
# --resume pick the newest last*.pt)
LAST_GOOD_PT = "lrguard-last-good.pt"

# --- checkpoint files and keys of other formats (lrguard ckpt) ---------------------------------------
TORCH_DATA_PKL = "data.pkl"  # <prefix>/data.pkl in a torch zip; storages in <prefix>/data/<key>
SAFETENSORS_SUFFIX = ".safetensors"
HF_TRAINER_STATE = "trainer_state.json"
HF_OPTIMIZER = "optimizer.pt"
HF_SCHEDULER = "scheduler.pt"
HF_SCALER = "scaler.pt"
HF_TRAINING_ARGS = "training_args.bin"
HF_MODEL_BIN = "pytorch_model.bin"
HF_MODEL_SAFETENSORS = "model.safetensors"
HF_RNG_GLOB = "rng_state*.pth"
LIGHTNING_VERSION_KEY = "pytorch-lightning_version"
LIGHTNING_OPTIMIZERS = "optimizer_states"
LIGHTNING_SCHEDULERS = "lr_schedulers"
LIGHTNING_LOOPS = "loops"
LIGHTNING_STATE_DICT = "state_dict"
LIGHTNING_HPARAMS = "hyper_parameters"
# loops.fit_loop["epoch_loop.state_dict"]["_batches_that_stepped"]: the step the loggers use. It equals
# global_step except under manual optimization with several optimizers (global_step counts every
# optimizer.step() call).
LIGHTNING_FIT_LOOP = "fit_loop"
LIGHTNING_EPOCH_LOOP_STATE = "epoch_loop.state_dict"
LIGHTNING_BATCHES_STEPPED = "_batches_that_stepped"
# A plain PyTorch loop's torch.save'd dict: the keys it usually stores each part under, most common first.
TORCH_MODEL_STATE_DICT = "model_state_dict"
TORCH_OPTIMIZER_KEYS = ("optimizer", "optimizer_state_dict", "optim")
TORCH_SCHEDULER_KEYS = ("scheduler", "lr_scheduler", "sched", "scheduler_state_dict", "lr_scheduler_state_dict")
TORCH_STEP_KEYS = ("global_step", "step", "iteration", "iter")
# Accelerate's save_state directory (accelerate 1.x): optimizer_<i>.bin / scheduler_<i>.bin for the i-th > 0.
ACCELERATE_OPTIMIZER = "optimizer.bin"
ACCELERATE_SCHEDULER = "scheduler.bin"
ACCELERATE_OPTIMIZER_GLOB = "optimizer*.bin"
ACCELERATE_SCHEDULER_GLOB = "scheduler*.bin"
ACCELERATE_SAMPLER_GLOB = "sampler*.bin"
ACCELERATE_RNG_GLOB = "random_states_*.pkl"
ACCELERATE_CUSTOM_GLOB = "custom_checkpoint_*.pkl"
ACCELERATE_MODEL_BIN_GLOB = "pytorch_model*.bin"
ACCELERATE_MODEL_SAFETENSORS_GLOB = "model*.safetensors"
ACCELERATE_SCALER = "scaler.pt"
