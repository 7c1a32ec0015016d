#!/usr/bin/env python3
"""mock-micro.py: the mock's own Python work per draft + send, without
sockets, the event loop or a client: bytes in, bytes out, through the
same HttpProtocol and App the server uses, with --log and --sent-log on
as mock.sh starts it. Prints CPU (process time) per 1,000 pairs, with
keep-alive and with a new connection for every pair.

    tests/bench/mock-micro.py [PAIRS] [--runs N] [--mock SCRIPT] [--profile FILE] [--check]

--check also prints the answers of one pair (for before/after diffs).
"""

import argparse
import importlib.machinery
import importlib.util
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, '..', 'mock-graph', 'mock-graph')


def load_mock(path=MOCK):
    loader = importlib.machinery.SourceFileLoader('mock_graph', path)
    spec = importlib.util.spec_from_loader('mock_graph', loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


class Transport:
    """Just enough of an asyncio transport for HttpProtocol."""

    def __init__(self):
        self.out = []
        self.closed = False

    def write(self, data):
        self.out.append(data)

    def close(self):
        self.closed = True

    def abort(self):
        self.closed = True

    def get_extra_info(self, name, default=None):
        return default


BODY_HTML = ('<p>Hi First1,</p><p>I noticed Company 1 works in fintech. ' +
             'We help teams like yours send fewer emails that say more. ' * 10 +
             '</p><p>Worth a short call next week?</p><p>M0001<br>m0001@acme.example</p>')
DRAFT = json.dumps({
    'subject': 'Quick question, First1',
    'body': {'contentType': 'html', 'content': BODY_HTML},
    'toRecipients': [{'emailAddress': {'address': 'p1@prospect1.example'}}],
    'internetMessageHeaders': [{'name': 'x-drip-step', 'value': '123456'}]},
    separators=(',', ':')).encode()


def requests(token, close):
    """(draft request, send request template) as curl sends them."""
    common = (b'Host: 127.0.0.1:40000\r\nUser-Agent: drip/0.1\r\n'
              b'Accept-Encoding: deflate, gzip, br, zstd\r\nAccept: application/json\r\n'
              b'Prefer: IdType="ImmutableId"\r\nAuthorization: Bearer ' + token.encode() +
              b'\r\n')
    draft = (b'POST /v1.0/me/messages HTTP/1.1\r\n' + common +
             b'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(DRAFT) +
             DRAFT)
    send = (b'POST /v1.0/me/messages/%s/send HTTP/1.1\r\n' + common +
            (b'Connection: close\r\n' if close else b'') +
            b'Content-Length: 0\r\n\r\n')
    return draft, send


def setup(mod, logdir):
    args = mod.parse_args(['--port-file', os.path.join(logdir, 'port'), '--interval', '0',
                           '--log', os.path.join(logdir, 'requests.log'),
                           '--sent-log', os.path.join(logdir, 'sent.log')])
    app = mod.App(args)
    app.set_port(40000)
    user = app.user('raw@acme.example', create=True)
    info = app.identity.issue(user, 'Mail.Send offline_access', 'bench')
    return app, info['access_token']


def pair(mod, app, proto, draft, send):
    t = proto.transport
    proto.data_received(draft)
    resp = t.out[-1]
    i = resp.index(b'"id":"') + 6
    msg_id = resp[i:resp.index(b'"', i)]
    proto.data_received(send % msg_id)
    return resp, t.out[-1]


def run(mod, app, token, n, close):
    draft, send = requests(token, close)
    proto = None
    t0 = time.process_time()
    for _ in range(n):
        if proto is None or proto.closed:
            if proto is not None:
                proto.connection_lost(None)
            proto = mod.HttpProtocol(app)
            proto.connection_made(Transport())
        created, sent = pair(mod, app, proto, draft, send)
        proto.transport.out.clear()
    dt = time.process_time() - t0
    assert b' 201 ' in created.split(b'\r\n', 1)[0], created[:200]
    assert sent.startswith(b'HTTP/1.1 202 '), sent[:200]
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('pairs', type=int, nargs='?', default=20000)
    ap.add_argument('--profile')
    ap.add_argument('--check', action='store_true')
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--mock', default=MOCK, help='the mock-graph script to measure')
    ap.add_argument('--warmup', type=int, default=2000, help='pairs before measuring')
    ap.add_argument('--mode', choices=('both', 'keep-alive', 'new-conn'), default='both')
    opts = ap.parse_args()
    mod = load_mock(opts.mock)
    with tempfile.TemporaryDirectory() as logdir:
        app, token = setup(mod, logdir)
        if opts.check:
            draft, send = requests(token, True)
            proto = mod.HttpProtocol(app)
            proto.connection_made(Transport())
            created, sent = pair(mod, app, proto, draft, send)
            sys.stdout.write(created.decode() + '\n----\n' + sent.decode() + '\n----\n')
            app.flush_logs()
            for name in ('requests.log', 'sent.log'):
                with open(os.path.join(logdir, name)) as f:
                    sys.stdout.write(f.read())
            return
        if opts.profile:
            import cProfile
            prof = cProfile.Profile()
            prof.enable()
            run(mod, app, token, opts.pairs, True)
            prof.disable()
            prof.dump_stats(opts.profile)
            return
        if opts.warmup:
            run(mod, app, token, opts.warmup, False)
        load = os.getloadavg()[0]
        modes = (False, True) if opts.mode == 'both' else (opts.mode == 'new-conn',)
        for _ in range(opts.runs):
            for close in modes:
                dt = run(mod, app, token, opts.pairs, close)
                print('%-10s %d pairs: CPU s per 1000 pairs %.4f  load %.2f' % (
                    'new-conn' if close else 'keep-alive', opts.pairs,
                    dt / opts.pairs * 1000, load))
                load = os.getloadavg()[0]


if __name__ == '__main__':
    main()
