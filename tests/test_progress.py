import io

from mtdnn_tf.progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_the_redrawn_bar_and_anything_else_one_line():
    assert progress_bar(5, stream=_Terminal()).verbose == 1
    assert progress_bar(5, stream=io.StringIO()).verbose == 2
    assert progress_bar(5, verbose=0, stream=io.StringIO()).verbose == 0
    assert progress_bar(5, verbose=0, stream=_Terminal()).verbose == 0


def test_the_one_line_form_writes_only_when_the_bar_finishes(capsys):
    bar = progress_bar(4, unit_name="text", stream=io.StringIO())
    for done in range(1, 4):
        bar.update(done)
    assert capsys.readouterr().out == ""
    bar.update(4)
    out = capsys.readouterr().out
    assert out.startswith("4/4") and out.count("\n") == 1
