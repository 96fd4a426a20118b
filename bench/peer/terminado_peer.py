"""The peer web terminal for the benchmark: terminado (Jupyter's terminal server) giving each
WebSocket its own shell, `docker exec -it CONTAINER rootresume-shell`, in a sandbox container
the benchmark created with the server's own container spec. Connect to /websocket/CONTAINER.

Usage: python terminado_peer.py PORT   (scripts/bench.sh installs terminado in a scratch venv)
"""

import sys

import terminado
import tornado.ioloop
import tornado.web


class ContainerTerms(terminado.UniqueTermManager):
    """One terminal per socket, in the container named by the URL."""

    def get_terminal(self, url_component=None):
        command = [
            "docker", "exec", "-it",
            "-e", "TERM=xterm-256color", "-e", "LANG=C.UTF-8",
            url_component, "/usr/local/bin/rootresume-shell",
        ]
        term = self.new_terminal(shell_command=command)
        self.start_reading(term)
        return term


def main():
    port = int(sys.argv[1])
    manager = ContainerTerms(shell_command=["false"])
    app = tornado.web.Application(
        [(r"/websocket/([0-9a-f]+)", terminado.TermSocket, {"term_manager": manager})]
    )
    app.listen(port, "127.0.0.1")
    print(f"terminado peer on 127.0.0.1:{port}", flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
