"""The RTSP server behind the ``rtsp://`` sink, run as its own process by a Python that has GStreamer's
introspection bindings (Debian: python3-gi, gir1.2-gst-rtsp-server-1.0; see edge.sinks.rtsp).

It imports nothing of edge and nothing outside the standard library and ``gi``, so any system Python runs it
as a plain file. Frames come on stdin, each an 8-byte header (width, height: little-endian uint32) and
width x height x 3 bytes of BGR. Every new frame is pushed into the appsrc of the one shared media (all
clients watch the same encoder); the appsrc keeps at most two buffers and drops the oldest, so a slow
encoder or client never blocks the reader, and the reader never blocks the pipeline behind it. Without
clients no media exists and frames are only remembered (the newest one starts the next client's stream).

stdout: ``ready PORT`` once listening (PORT 0 asks for a free one), then ``clients N`` whenever the number of connected clients changes.
stderr: one line per problem. Ends when stdin closes.

    python3 rtsp_server.py HOST PORT /PATH FPS ENCODER KBPS      (EDGE_RTSP_USER / EDGE_RTSP_PASSWORD: basic auth)
"""

from __future__ import annotations

import os
import struct
import sys
import threading

ENCODERS = {  # name -> the encoder part of the media pipeline ({fps}, {kbps} filled in)
    "x264enc": "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate={kbps} "
               "! video/x-h264,profile=baseline",
    "openh264enc": "openh264enc bitrate={bps} gop-size={fps} ! video/x-h264,profile=constrained-baseline",
    "v4l2h264enc": "v4l2h264enc extra-controls=controls,video_bitrate={bps},h264_i_frame_period={fps} "
                   "! video/x-h264,level=(string)4",
}


def main(argv: list[str]) -> int:
    host, port, path, fps, encoder, kbps = argv[1], argv[2], argv[3], int(argv[4]), argv[5], int(argv[6])
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer
    except (ImportError, ValueError) as exc:
        print(f"GStreamer's RTSP server is not importable ({exc}); apt-get install python3-gi "
              "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp", file=sys.stderr, flush=True)
        return 3
    Gst.init(None)
    names = [name for name in ENCODERS if Gst.ElementFactory.find(name)] if encoder == "auto" else [encoder]
    if not names or encoder not in ("auto", *ENCODERS) or not Gst.ElementFactory.find(names[0]):
        print(f"H.264 encoder {encoder!r} is not available; known: {', '.join(ENCODERS)} (x264enc is in "
              "gstreamer1.0-plugins-ugly)", file=sys.stderr, flush=True)
        return 3
    encode = ENCODERS[names[0]].format(fps=fps, kbps=kbps, bps=kbps * 1000)

    server = GstRtspServer.RTSPServer()
    server.set_address(host)
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( appsrc name=src is-live=true format=time do-timestamp=true block=false max-buffers=2 "
                       f"leaky-type=downstream ! videoconvert ! video/x-raw,format=I420 ! {encode} "
                       f"! rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(True)
    user, password = os.environ.get("EDGE_RTSP_USER"), os.environ.get("EDGE_RTSP_PASSWORD")
    if user and password:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("viewer", "media.factory.access", True)
        permissions.add_permission_for_role("viewer", "media.factory.construct", True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory(path, factory)

    lock = threading.Lock()
    state = {"src": None, "frame": None, "caps": None, "clients": 0}
    loop = GLib.MainLoop()

    def push(src, frame) -> None:
        width, height, data = frame
        if state["caps"] != (width, height):
            src.set_property("caps", Gst.Caps.from_string(
                f"video/x-raw,format=BGR,width={width},height={height},framerate={fps}/1"))
            state["caps"] = (width, height)
        src.emit("push-buffer", Gst.Buffer.new_wrapped(data))

    def on_configure(_factory, media) -> None:
        src = media.get_element().get_by_name("src")
        with lock:
            state["src"], state["caps"] = src, None
            if state["frame"] is not None:
                push(src, state["frame"])

        def on_unprepared(_media) -> None:
            with lock:
                if state["src"] is src:
                    state["src"] = None

        media.connect("unprepared", on_unprepared)

    factory.connect("media-configure", on_configure)

    def count(delta: int) -> None:
        state["clients"] += delta
        print(f"clients {state['clients']}", flush=True)

    def on_client(_server, client) -> None:
        count(+1)
        client.connect("closed", lambda _client: count(-1))

    server.connect("client-connected", on_client)
    if server.attach(None) == 0:
        print(f"cannot listen on {host}:{port} (in use, or not an address of this machine)", file=sys.stderr,
              flush=True)
        return 4

    def read_frames() -> None:
        stdin = sys.stdin.buffer
        while True:
            head = stdin.read(8)
            if len(head) < 8:
                break
            width, height = struct.unpack("<II", head)
            data = stdin.read(width * height * 3)
            if len(data) < width * height * 3:
                break
            with lock:
                state["frame"] = (width, height, data)
                if state["src"] is not None:
                    push(state["src"], state["frame"])
        GLib.idle_add(loop.quit)

    threading.Thread(target=read_frames, name="frames", daemon=True).start()
    print(f"ready {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
