import json
import os

import pytest

from fastformers_tf import artifacts
from fastformers_tf.artifacts import ArtifactError, Manifest


def write(folder, files):
    for name, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)


def test_writing_replaces_the_whole_folder_and_records_checksums(tmp_path):
    target = str(tmp_path / "out")
    with artifacts.writing(target, "toy") as folder:
        write(folder, {"a.txt": "first", "sub/b.txt": "b"})
    with artifacts.writing(target, "toy") as folder:
        write(folder, {"c.txt": "second"})
    assert sorted(os.listdir(target)) == ["c.txt", "manifest.json"]  # a.txt and sub/ are gone with the old folder
    manifest = Manifest(target, "toy")
    assert manifest.files == {
        "c.txt": {"bytes": 6, "sha256": "16367aacb67a4a017c8da8ab95682ccb390863780f7114dda0a0e0c55644c7c4"}
    }
    assert os.listdir(tmp_path) == ["out"]  # no temporary or old folder left


def test_a_failed_write_leaves_the_previous_folder_untouched(tmp_path):
    target = str(tmp_path / "out")
    with artifacts.writing(target, "toy") as folder:
        write(folder, {"a.txt": "kept"})
    for error in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(error):
            with artifacts.writing(target, "toy") as folder:
                write(folder, {"a.txt": "half"})
                raise error()
        assert open(os.path.join(target, "a.txt")).read() == "kept"
        Manifest(target, "toy").verify()
    assert os.listdir(tmp_path) == ["out"]


def test_refuses_to_replace_a_folder_that_is_not_an_artifact(tmp_path):
    write(str(tmp_path / "runs"), {"notes.txt": "mine"})
    with pytest.raises(ArtifactError, match=r"runs is not empty and was not written by fastformers_tf.*notes\.txt"):
        with artifacts.writing(str(tmp_path / "runs"), "toy"):
            pass
    assert os.listdir(tmp_path / "runs") == ["notes.txt"]


def test_an_artefact_replaces_only_one_of_its_own_kind(tmp_path):
    target = str(tmp_path / "model")
    with artifacts.writing(target, artifacts.MODEL_KIND) as folder:
        write(folder, {artifacts.MODEL_FILE: "{}", "model.weights.h5": "weights"})
    with pytest.raises(ArtifactError, match=r"model holds a fastformers_tf model folder, which writing a export"):
        with artifacts.writing(target, artifacts.EXPORT_KIND) as folder:
            write(folder, {"model.onnx": "graph"})
    assert sorted(os.listdir(target)) == ["fastformers_model.json", "manifest.json", "model.weights.h5"]
    Manifest(target, artifacts.MODEL_KIND).verify()
    os.remove(os.path.join(target, artifacts.MANIFEST_FILE))  # a model folder without a manifest: its files say
    with pytest.raises(ArtifactError, match=r"holds a fastformers_tf model folder"):
        with artifacts.writing(target, artifacts.EXPORT_KIND):
            pass
    with artifacts.writing(target, artifacts.MODEL_KIND) as folder:  # a model over a model: replaced
        write(folder, {artifacts.MODEL_FILE: "{}", "model.weights.h5": "new"})
    assert open(os.path.join(target, "model.weights.h5")).read() == "new"


def test_manifest_catches_incomplete_and_changed_folders(tmp_path):
    target = str(tmp_path / "out")
    write(target, {"a.txt": "no manifest"})
    with pytest.raises(ArtifactError, match=r"out has no manifest\.json: it was not completely written"):
        Manifest(target)
    os.remove(os.path.join(target, "a.txt"))
    with artifacts.writing(target, "toy") as folder:
        write(folder, {"a.txt": "0123456789"})
    with pytest.raises(ArtifactError, match="holds a 'toy' artefact, not a 'model' one"):
        Manifest(target, "model")
    with open(os.path.join(target, "a.txt"), "r+") as f:
        f.truncate(4)
    with pytest.raises(ArtifactError, match=r"a\.txt changed after it was written \(4 bytes, 10 recorded"):
        Manifest(target).path("a.txt")
    with open(os.path.join(target, "a.txt"), "w") as f:
        f.write("9123456789")  # same size, other bytes
    with pytest.raises(ArtifactError, match="sha256 differs"):
        Manifest(target).verify()
    with pytest.raises(ArtifactError, match="b.txt is not one of the files"):
        Manifest(target).path("b.txt")


def test_a_folder_left_aside_by_a_killed_swap_is_put_back(tmp_path):
    target = str(tmp_path / "out")
    with artifacts.writing(target, "toy") as folder:
        write(folder, {"a.txt": "previous"})
    os.rename(target, str(tmp_path / ".out.old-1234"))  # killed between the swap's two renames
    write(str(tmp_path / ".out.partial-5678"), {"a.txt": "half"})  # and its staging folder
    with pytest.raises(RuntimeError):
        with artifacts.writing(target, "toy"):
            raise RuntimeError()
    assert open(os.path.join(target, "a.txt")).read() == "previous"
    assert os.listdir(tmp_path) == ["out"]


def test_write_text_replaces_a_file_whole(tmp_path):
    path = str(tmp_path / "metrics.json")
    artifacts.write_json(path, {"a": 1})
    artifacts.write_json(path, {"b": 2})
    assert json.load(open(path)) == {"b": 2} and os.listdir(tmp_path) == ["metrics.json"]
