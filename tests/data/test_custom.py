"""The custom dataset (deform3d.data.custom) end to end: a folder tree and a list file give the same samples; train,
eval and predict from a folder of videos through the command line; each bad input one line naming the file and a
non-zero exit before training starts."""
import json, pickle
from pathlib import Path
import numpy as np
import pytest

from deform3d.cli import main
from deform3d.data.custom import CustomDataset, DataProblems
from deform3d.data.readers import write_pyskl_pickle
from deform3d.data.video import write_video
from deform3d.training.checkpoint import load_checkpoint

CLASSES = ('clap', 'jump', 'wave')
# the custom config at a size that trains in seconds on 2 CPU cores
TINY = ['model.num_frames=4', 'model.img_size=32', 'model.width=4', 'model.depth=1', 'model.num_heads=2',
        'model.mlp_ratio=1.0', 'train.batch_size=4', 'train.epochs=1', 'train.warmup_epochs=0.5',
        'data.num_workers=0', 'train.threads=1']


def write_custom_set(root: Path, per_class=4, T=12, S=32, seed=0) -> list[Path]:
    "Class folders of tiny clips (a grey level per class) and their COCO-17 skeletons in root/poses.pkl."
    rng, anns, videos = np.random.default_rng(seed), [], []
    for k, c in enumerate(CLASSES):
        for i in range(per_class):
            v = root / c / f'{c}{i}.mp4'
            v.parent.mkdir(parents=True, exist_ok=True)
            write_video(v, np.full((T, S, S, 3), 40 + 60 * k, np.uint8))
            anns.append(dict(frame_dir=v.stem, label=-1, img_shape=(S, S), total_frames=T,
                             keypoint=rng.uniform(2, S - 2, (1, T, 17, 2)).astype(np.float32),
                             keypoint_score=np.ones((1, T, 17), np.float32)))
            videos.append(v)
    write_pyskl_pickle(root / 'poses.pkl', {}, anns)
    return videos


def sets(root, extra=()):
    return [x for kv in [f'data.root={root}', *TINY, *extra] for x in ('--set', kv)]


def records(ds):
    return [(r['name'], r['label'], str(r['video'])) for r in ds.records]


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('custom') / 'mine'
    write_custom_set(root)
    return root


def test_folder_tree_and_list_file_agree(folder, tmp_path):
    tree = {s: CustomDataset(folder, s, clip_len=4, img_size=32) for s in ('train', 'test')}
    assert tree['train'].classes == list(CLASSES)
    assert [len(tree[s]) for s in ('train', 'test')] == [9, 3]                 # one of four held out per class
    assert sorted(r['label'] for r in tree['test'].records) == [0, 1, 2]
    # the same videos listed in MMAction2 video lists, in another folder (root-relative paths), indices and names
    for by_name in (False, True):
        lists = tmp_path / f'lists{by_name}'
        lists.mkdir()
        for s, ds in tree.items():
            lines = [f"{Path(r['video']).relative_to(folder)} {ds.classes[r['label']] if by_name else r['label']}"
                     for r in ds.records]
            (lists / f'{s}.txt').write_text('\n'.join(lines) + '\n')
        (lists / 'label_map.txt').write_text('\n'.join(CLASSES) + '\n')
        listed = {s: CustomDataset(folder, s, clip_len=4, img_size=32, train_list=lists / 'train.txt',
                                   test_list=lists / 'test.txt', label_map=lists / 'label_map.txt')
                  for s in ('train', 'test')}
        for s in ('train', 'test'):
            assert listed[s].classes == list(CLASSES)
            assert records(listed[s]) == records(tree[s])
        a, b = listed['test'][1], tree['test'][1]                              # the same test-time sample
        assert a['label'] == b['label'] and (a['keypoints'] == b['keypoints']).all()
        assert (a['video'] == b['video']).all()


def test_train_eval_predict(folder, tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(['train', 'custom', *sets(folder), '--out', str(out), '--quiet']) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    ck = load_checkpoint(out / 'checkpoints' / 'last.pt')
    assert ck['classes'] == list(CLASSES) and ck['config']['model']['num_classes'] == 3       # counted, carried
    assert ck['config']['data']['dataset'] == 'custom' and ck['config']['model']['num_joints'] == 17
    m = json.loads((out / 'metrics.json').read_text())
    assert m['top1'] == printed['top1'] and 0 <= m['top1'] <= 1
    assert main(['eval', 'custom', '--checkpoint', str(out / 'checkpoints' / 'last.pt'), *sets(folder),
                 '--out', str(tmp_path / 'eval'), '--quiet']) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev['top1'] == m['top1']                                             # the same test split, the same model
    other = tmp_path / 'other'                                                 # the same videos, another class order
    write_custom_set(other)
    (other / 'label_map.txt').write_text('wave\njump\nclap\n')
    assert main(['eval', 'custom', '--checkpoint', str(out / 'checkpoints' / 'last.pt'), *sets(other), '--quiet']) == 1
    assert "but the checkpoint was trained on ['clap', 'jump', 'wave']" in capsys.readouterr().err
    video = folder / 'wave' / 'wave1.mp4'
    assert main(['predict', str(out / 'checkpoints' / 'last.pt'), str(video), '--skeleton', str(folder / 'poses.pkl'),
                 '--json', '--topk', '3']) == 0
    top = json.loads(capsys.readouterr().out)
    assert sorted(t['class'] for t in top) == sorted(CLASSES)
    assert abs(sum(t['probability'] for t in top) - 1) < 1e-4


def _broken(root: Path, kind: str) -> Path:
    "The file of one bad input of `kind` added to a copy of the toy set at `root`."
    write_custom_set(root)
    if kind == 'missing skeleton':
        bad = root / 'clap' / 'no_pose.mp4'
        write_video(bad, np.zeros((12, 32, 32, 3), np.uint8))
    elif kind == 'unreadable video':
        bad = root / 'jump' / 'broken.mp4'
        bad.write_bytes(b'\x00not a video' * 100)
        with open(root / 'poses.pkl', 'rb') as f: anns = pickle.load(f)['annotations']
        write_pyskl_pickle(root / 'poses.pkl', {}, anns + [dict(anns[0], frame_dir='broken')])
    else:                                                                      # a label outside the label map
        (root / 'label_map.txt').write_text('clap\njump\nwave\n')
        (root / 'train.txt').write_text('clap/clap0.mp4 0\njump/jump0.mp4 1\nwave/wave0.mp4 5\n')
        (root / 'test.txt').write_text('clap/clap1.mp4 0\n')
        bad = root / 'wave' / 'wave0.mp4'
    return bad


BAD = [('missing skeleton', 'no skeleton in'), ('unreadable video', 'unreadable video'),
       ('label outside the label map', "label '5'")]


@pytest.mark.parametrize('kind, says', BAD)
def test_bad_input_one_line(kind, says, tmp_path, capsys):
    bad = _broken(tmp_path / 'data', kind)
    rc = main(['train', 'custom', *sets(tmp_path / 'data'), '--out', str(tmp_path / 'run'), '--quiet'])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert len(err) == 2 and all(l.startswith('deform3d: error: ') for l in err), err   # the problem, then the count
    assert err[0].startswith(f'deform3d: error: {bad}: ') and says in err[0]
    assert err[1] == f'deform3d: error: {tmp_path / "data"}: 1 problem in the data (fix or remove these files):'
    assert not (tmp_path / 'run' / 'checkpoints').exists()                    # before training started


def test_all_problems_listed(tmp_path):
    root = tmp_path / 'data'
    _broken(root, 'missing skeleton')
    bad = _broken(tmp_path / 'other', 'unreadable video')
    (root / 'jump' / 'broken.mp4').write_bytes(bad.read_bytes())
    with open(tmp_path / 'other' / 'poses.pkl', 'rb') as f: anns = pickle.load(f)['annotations']
    write_pyskl_pickle(root / 'poses.pkl', {}, anns)
    with pytest.raises(DataProblems) as e: CustomDataset(root, 'test', clip_len=4, img_size=32)
    assert sorted(l.split(': ')[0] for l in e.value.lines) == [str(root / 'clap' / 'no_pose.mp4'),
                                                                str(root / 'jump' / 'broken.mp4')]
