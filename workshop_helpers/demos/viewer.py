"""Demo widgets: one image segmented and plotted, the live camera loop, the interactive viewer."""

from __future__ import annotations

import base64
import html
import threading
import time

import cv2
import numpy as np

from ..datasets import DatasetSpec
from ..inference import predict, predict_labels
from ..plotting import overlay, plot_segmentation
from .camera import open_camera
from .images import ImageLoadError, decode_image, load_image

DISPLAY_WIDTH = 448  # pixels: fits beside the controls in a notebook column


def segment_and_plot(model, image: np.ndarray, spec: DatasetSpec, title: str | None = None):
    """Predict one image; draw the original notebook's layout (input, overlay, per-class maps)."""
    return plot_segmentation(image, predict(model, image), spec, title=title)


def show_url(model, url: str, spec: DatasetSpec, title: str | None = None):
    """Segment the image at a URL or path; print a readable message instead of a traceback."""
    try:
        image = load_image(url)
    except ImageLoadError as err:
        print(f"Could not use this image: {err}")
        return None
    return segment_and_plot(model, image, spec, title=title)


def _png_bytes(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()


def _jpeg_bytes(image: np.ndarray) -> bytes:
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    return cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def shown_size(height: int, width: int, display_width: int = DISPLAY_WIDTH) -> tuple[int, int]:
    """(width, height) in pixels that shows an image at display_width with its aspect ratio."""
    return display_width, max(1, round(height * display_width / width))


def legend_html(spec: DatasetSpec, means=None, visible=None) -> str:
    """An HTML table of class colours (with mean probabilities); hidden classes are greyed out."""
    rows = []
    for index, (name, colour) in enumerate(zip(spec.class_names, spec.palette)):
        hidden = visible is not None and index not in visible
        plain = index == spec.background_index
        swatch = (
            "border:1px solid #999;background:transparent"
            if plain
            else f"background:rgb{tuple(colour)}"
        )
        note = " (uncoloured)" if plain else ""
        value = "" if means is None else f"<td style='text-align:right'>{means[index]:.2f}</td>"
        style = "color:#aaa;text-decoration:line-through" if hidden else ""
        rows.append(
            f"<tr style='{style}'><td><span style='display:inline-block;width:14px;"
            f"height:14px;{swatch}'></span></td><td>{html.escape(name)}{note}</td>{value}</tr>"
        )
    header = "<tr><th></th><th>class</th><th>mean p</th></tr>" if means is not None else ""
    return f"<table style='font-size:13px;line-height:1.3'>{header}{''.join(rows)}</table>"


class LiveSegmentation:
    """Capture → predict → overlay loop shown in an ipywidgets.Image, with Start/Stop and FPS.

    `capture` is an opened camera (anything with read() and release()), or None to open one with
    `open_capture` on Start. Stop releases the camera, also one handed in; Start opens it again.
    """

    def __init__(
        self,
        model,
        spec: DatasetSpec,
        capture=None,
        size: int = 192,
        alpha: float = 0.5,
        display_width: int = 480,
        open_capture=open_camera,
    ):
        import ipywidgets as widgets

        self.model, self.spec, self.size, self.alpha = model, spec, size, alpha
        self.display_width = display_width
        self.capture, self.open_capture = capture, open_capture
        self.image = widgets.Image(format="jpeg", width=display_width)
        self.fps_label = widgets.Label("stopped")
        self.start_button = widgets.Button(description="Start", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        legend = widgets.HTML(legend_html(spec))
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.start_button, self.stop_button, self.fps_label]),
                widgets.HBox([self.image, legend], layout=widgets.Layout(align_items="flex-start")),
            ]
        )
        # CSS classes name the parts for the browser test (and anyone styling them).
        for part, name in (
            (self.widget, "live-segmentation"),
            (self.image, "live-picture"),
            (self.fps_label, "live-fps"),
        ):
            part.add_class(name)
        self.frames, self.fps = 0, 0.0
        self._stop = threading.Event()
        self._thread = None

    def step(self) -> bool:
        """Process one frame; False when the source has no more frames."""
        ok, frame = self.capture.read()
        if not ok:
            return False
        height, width = frame.shape[:2]
        if width > self.display_width:  # overlay and encode only the pixels the widget shows
            frame = cv2.resize(
                frame, shown_size(height, width, self.display_width), interpolation=cv2.INTER_AREA
            )
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        labels = predict_labels(self.model, rgb, size=self.size, tta=False)
        shown = overlay(rgb, labels, self.spec.palette, self.alpha, self.spec.background_index)
        self.image.value = _jpeg_bytes(shown)
        self.frames += 1
        return True

    def run(self, max_frames: int | None = None) -> float:
        """Run the loop here until stopped, out of frames or max_frames; return the FPS."""
        if self.capture is None:
            self.capture = self.open_capture()
            if self.capture is None:
                raise RuntimeError("No camera found: use webcam_images() for the sample photos.")
        self._stop.clear()
        start, done = time.perf_counter(), 0
        while not self._stop.is_set() and (max_frames is None or done < max_frames):
            if not self.step():
                break
            done += 1
            self.fps = done / (time.perf_counter() - start)
            self.fps_label.value = f"{self.fps:.1f} FPS"
        return self.fps

    def _run_then_release(self) -> None:
        try:
            self.run()
        except RuntimeError as err:
            self.fps_label.value = str(err)
        finally:
            self.release()
            if not self.fps_label.value.startswith("No camera"):
                self.fps_label.value = f"stopped ({self.fps:.1f} FPS)"

    def start(self) -> None:
        """Run the loop in a background thread so the notebook stays responsive."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run_then_release, daemon=True)
            self._thread.start()

    def release(self) -> None:
        """Give the camera back to the system (Start opens it again)."""
        capture, self.capture = self.capture, None
        if capture is not None:
            capture.release()

    def stop(self) -> None:
        """Stop the loop and release the camera."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=10)  # the thread releases the camera as it ends
        if self._thread is None or not self._thread.is_alive():
            self.release()
        self.fps_label.value = f"stopped ({self.fps:.1f} FPS)"


COLAB_CALLBACK = "workshop.segment_frame"
# The browser streams its camera to Python: each frame goes to the kernel as a JPEG data URL
# (google.colab.kernel.invokeFunction) and the overlay comes back the same way.
_COLAB_LIVE_JS = (
    """
async function workshopLive(width) {
  const box = document.createElement('div');
  const stop = document.createElement('button');
  stop.textContent = 'Stop';
  const label = document.createElement('span');
  label.style.marginLeft = '1em';
  const shown = document.createElement('img');
  shown.style.display = 'block';
  box.append(stop, label, shown);
  document.body.appendChild(box);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: true});
  } catch (err) {
    label.textContent = 'No camera (' + err.name + '): the webcam photo above still works.';
    stop.remove();
    return;
  }
  const video = document.createElement('video');
  video.srcObject = stream;
  await video.play();
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = Math.round(video.videoHeight * width / video.videoWidth);
  let running = true;
  stop.onclick = () => { running = false; };
  const start = performance.now();
  let frames = 0;
  while (running) {
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    const reply = await google.colab.kernel.invokeFunction(
        '%s', [canvas.toDataURL('image/jpeg', 0.8)], {});
    shown.src = reply.data['application/json'].image;
    frames += 1;
    label.textContent = (frames * 1000 / (performance.now() - start)).toFixed(1) + ' FPS';
    google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
    await new Promise((resolve) => setTimeout(resolve, 0));  // let the page draw and take clicks
  }
  stream.getTracks().forEach((track) => track.stop());
  label.textContent = 'stopped (' + label.textContent + ')';
}
"""
    % COLAB_CALLBACK
)


def segment_data_url(
    model, spec: DatasetSpec, data_url: str, size: int = 192, alpha: float = 0.5
) -> str:
    """The overlay of one browser frame (a JPEG data URL) as a JPEG data URL."""
    frame = decode_image(base64.b64decode(data_url.split(",", 1)[1]), name="the webcam frame")
    labels = predict_labels(model, frame, size=size, tta=False)
    shown = overlay(frame, labels, spec.palette, alpha, spec.background_index)
    return "data:image/jpeg;base64," + base64.b64encode(_jpeg_bytes(shown)).decode("ascii")


def colab_live_segmentation(model, spec: DatasetSpec, width: int = 320, size: int = 192) -> None:
    """Colab's live loop: browser camera frames are segmented here and shown there until Stop."""
    from google.colab import output
    from IPython.display import JSON, Javascript, display

    output.register_callback(
        COLAB_CALLBACK, lambda url: JSON({"image": segment_data_url(model, spec, url, size)})
    )
    display(Javascript(_COLAB_LIVE_JS + f"\nworkshopLive({int(width)});"))


def _unshrunk():
    """A Layout that keeps a box at its content's size in a row of boxes."""
    import ipywidgets as widgets

    # A shrunk box clips its wider children (the picture then covers the controls) and scrolls
    # them when one takes focus (the slider), shifting the label's text out of sight.
    return widgets.Layout(flex="0 0 auto", overflow="visible")


class SegmentationViewer:
    """Pick an image, toggle classes, set the overlay opacity and read per-class probabilities."""

    def __init__(
        self,
        model,
        spec: DatasetSpec,
        images: dict[str, np.ndarray],
        display_width: int = DISPLAY_WIDTH,
    ):
        import ipywidgets as widgets

        if not images:
            raise ValueError("The viewer needs at least one image.")
        self.model, self.spec, self.images = model, spec, dict(images)
        self.display_width = display_width
        self._probabilities = {}
        self.picker = widgets.Dropdown(options=list(self.images), description="image")
        # One button per class: a plain click shows or hides that class alone.
        self.toggles = {
            name: widgets.ToggleButton(
                value=True,
                description=name,
                icon="check",
                button_style="info",
                tooltip=f"show or hide {name}",
                layout=widgets.Layout(width="140px"),
            )
            for name in spec.class_names
        }
        self.opacity = widgets.FloatSlider(
            value=0.5, min=0.0, max=1.0, step=0.05, description="opacity"
        )
        self.url = widgets.Text(
            placeholder="https://… image URL, then Enter",
            description="URL",
            continuous_update=False,
        )
        # No margin: the picture then fills its box exactly, at most display_width.
        self.picture = widgets.Image(format="png", layout=widgets.Layout(margin="0"))
        # Errors wrap under the picture at its width, so a long URL never moves the layout.
        self.message = widgets.HTML(
            layout=widgets.Layout(width=f"{display_width}px", max_width="100%")
        )
        self.legend = widgets.HTML(layout=_unshrunk())
        self.picker.observe(lambda _: self._picked(), names="value")
        self.opacity.observe(lambda _: self.render(), names="value")
        for toggle in self.toggles.values():
            toggle.observe(self._toggled, names="value")
        self.url.observe(lambda change: self.add_url(change["new"]), names="value")
        self.classes_label = widgets.Label("classes (click to hide or show)")
        buttons = widgets.VBox([self.classes_label, *self.toggles.values()])
        controls = widgets.VBox([self.picker, self.opacity, self.url, buttons], layout=_unshrunk())
        # In a narrow output (JupyterLab beside its file browser) the picture shrinks, down to
        # half its width, beside the controls; narrower still, it wraps under them.
        picture = widgets.VBox(
            [self.picture, self.message],
            layout=widgets.Layout(
                flex=f"1 1 {display_width // 2}px",
                min_width=f"{display_width // 2}px",
                max_width=f"{display_width}px",
                overflow="visible",
            ),
        )
        # A part the row has no room for wraps onto the next line (the legend first).
        self.widget = widgets.HBox(
            [controls, picture, self.legend],
            layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap"),
        )
        for part, name in (
            (self.widget, "segmentation-viewer"),
            (self.picker, "viewer-picker"),
            (self.classes_label, "viewer-classes"),
            (self.opacity, "viewer-opacity"),
            (self.url, "viewer-url"),
            (self.picture, "viewer-picture"),
            (self.message, "viewer-message"),
            (self.legend, "viewer-legend"),
        ):
            part.add_class(name)
        self.render()

    @property
    def visible(self) -> list[int]:
        """Indices of the classes whose toggle is on."""
        return [k for k, name in enumerate(self.spec.class_names) if self.toggles[name].value]

    def _toggled(self, change) -> None:
        change["owner"].icon = "check" if change["new"] else ""
        change["owner"].button_style = "info" if change["new"] else ""
        self.render()

    def _picked(self) -> None:
        self.message.value = ""
        self.render()

    def add_image(self, name: str, image: np.ndarray) -> None:
        """Add an image to the picker and show it."""
        self.images[name] = image
        self.picker.options = list(self.images)
        self.picker.value = name

    def add_url(self, url: str) -> None:
        """Load a URL into the viewer, or show why it failed under the picture."""
        if not url.strip():
            return
        try:
            image = load_image(url)
        except ImageLoadError as err:
            self.message.value = (
                "<div style='color:#b00020;white-space:normal;overflow-wrap:anywhere'>"
                f"Could not use this image: {html.escape(str(err))}</div>"
            )
            return
        self.add_image(url, image)
        self.message.value = ""

    def probabilities(self, name: str) -> np.ndarray:
        """Class probabilities of one image, predicted once."""
        if name not in self._probabilities:
            self._probabilities[name] = predict(self.model, self.images[name])
        return self._probabilities[name]

    def render(self) -> None:
        """Redraw the overlay and the legend from the widgets' values."""
        name = self.picker.value
        image, probabilities = self.images[name], self.probabilities(name)
        visible = self.visible
        shown = overlay(
            image,
            probabilities.argmax(-1),
            self.spec.palette,
            self.opacity.value,
            self.spec.background_index,
            visible=visible,
        )
        width, height = shown_size(*image.shape[:2], self.display_width)
        self.picture.width, self.picture.height = width, height
        # Height auto: a picture shrunk to its box (max-width 100%) keeps its aspect ratio.
        self.picture.layout.width, self.picture.layout.height = f"{width}px", "auto"
        self.picture.value = _png_bytes(shown)
        means = probabilities.reshape(-1, probabilities.shape[-1]).mean(0)
        self.legend.value = legend_html(self.spec, means, visible)
