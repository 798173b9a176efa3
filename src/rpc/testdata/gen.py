"""Regenerates the expected XML-RPC bodies in this folder.

Run with the Python that has Supervisor 4.3 installed:

    python gen.py

Responses come from `supervisor.xmlrpc.xmlrpc_marshal`, which is what
supervisord sends; calls come from `xmlrpc.client.dumps`, which is what
supervisorctl sends. The Rust tests (codec/tests.rs) build the same values
and require byte equality, so the two lists must stay in step.
"""
import math
import os
import random
import struct
import xmlrpc.client as x

from supervisor.xmlrpc import xmlrpc_marshal

HERE = os.path.dirname(os.path.abspath(__file__))

PROC = {
    'name': 'web_00', 'group': 'web', 'start': 1767268800, 'stop': 0,
    'now': 1767268862, 'state': 20, 'statename': 'RUNNING', 'spawnerr': '',
    'exitstatus': 0, 'logfile': '/var/log/web.log',
    'stdout_logfile': '/var/log/web.log', 'stderr_logfile': '', 'pid': 4242,
    'description': 'pid 4242, uptime 0:01:02',
}

RESPONSES = {
    'int_1': 1,
    'int_neg': -42,
    'int_zero': 0,
    'int_max': 2**31 - 1,
    'int_min': -2**31,
    'bool_true': True,
    'bool_false': False,
    'str_plain': 'hello',
    'str_empty': '',
    'str_escape': 'a<b>&c "q" \'a\' ]]> &amp;',
    'str_unicode': 'h\u00e9llo \u2713 \u65e5\u672c\u8a9e \U0001f600',
    'str_ctrl': '\x1b[31mred\x1b[0m\r\n\ttab\x00nul\x7f',
    'str_multiline': 'line1\nline2\n',
    'double_1_5': 1.5,
    'double_0_1': 0.1,
    'double_neg_zero': -0.0,
    'double_1e16': 1e16,
    'double_1e_5': 1e-05,
    'double_big': 123456789.125,
    'double_inf': float('inf'),
    'double_nan': float('nan'),
    'double_1e300': 1e300,
    'datetime': x.DateTime('20260101T12:00:00'),
    'b64_empty': x.Binary(b''),
    'b64_short': x.Binary(b'\x00\xff\x10'),
    'b64_long': x.Binary(bytes(range(256))),
    'arr_empty': [],
    'struct_empty': {},
    'arr_mixed': [1, 'two', True, 3.5, [], {}],
    'nested': {'a': {'b': [1, [2, [3, {'c': 'd'}]]]}},
    'process_info': PROC,
    'all_process_info': [PROC, dict(PROC, name='web_01', pid=4243), dict(PROC, name='worker', group='worker', state=0, statename='STOPPED', pid=0, description='Not started')],
    'state': {'statecode': 1, 'statename': 'RUNNING'},
    'tail': ['log <data>\n', 1234, False],
    'struct_keys_escape': {'a<b': 1, '\u00e9': 2},
    'multicall': ['3.0', {'faultCode': 10, 'faultString': 'BAD_NAME: x'}, True],
}

FAULTS = {
    'fault_bad_name': x.Fault(10, 'BAD_NAME: foo'),
    'fault_unknown_method': x.Fault(1, 'UNKNOWN_METHOD'),
    'fault_escape': x.Fault(30, 'FAILED: <&> \u00e9'),
    'fault_negative': x.Fault(-1, ''),
}

CALLS = {
    'call_noargs': ('supervisor.getState', ()),
    'call_start': ('supervisor.startProcess', ('web:web_00', True)),
    'call_read': ('supervisor.readProcessStdoutLog', ('web', -100, 0)),
    'call_multicall': ('system.multicall', ([
        {'methodName': 'supervisor.getPID', 'params': []},
        {'methodName': 'supervisor.stopProcess', 'params': ['x', False]},
    ],)),
    'call_all_types': ('x.y', (1, True, 's<>', 1.25, x.DateTime('20260101T12:00:00'),
                               x.Binary(b'bin'), [1], {'k': 'v'})),
}


def write(name, body):
    if isinstance(body, str):
        body = body.encode('utf-8')
    with open(os.path.join(HERE, name + '.xml'), 'wb') as f:
        f.write(body)


def main():
    for name, value in RESPONSES.items():
        write('resp_' + name, xmlrpc_marshal(value))
    write('resp_nil', x.dumps((None,), methodresponse=1, allow_none=True))
    for name, fault in FAULTS.items():
        write(name, xmlrpc_marshal(fault))
    for name, (method, params) in CALLS.items():
        write(name, x.dumps(params, method))
    write('call_nil', x.dumps((None, 1), 'a.b', allow_none=True))

    # Python's repr() of floats: bit pattern -> text.
    rng = random.Random(20260101)
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, math.pi, math.e,
            5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
            float('inf'), float('-inf'), 9007199254740992.0, 9007199254740993.0]
    for e in range(-30, 31):
        v = 10.0 ** e
        vals += [v, -v, math.nextafter(v, 0), math.nextafter(v, math.inf), 1.5 * v, 123456789 * v]
    for _ in range(2000):
        bits = rng.getrandbits(64)
        v = struct.unpack('<d', struct.pack('<Q', bits))[0]
        if not math.isnan(v):
            vals.append(v)
    for _ in range(1000):
        vals.append(round(rng.random(), rng.randint(0, 17)) * 10.0 ** rng.randint(-8, 20))
    for _ in range(300):
        vals.append(float(rng.randint(-2**60, 2**60)))
    with open(os.path.join(HERE, 'doubles.txt'), 'w') as f:
        for v in vals:
            f.write('%016x %s\n' % (struct.unpack('<Q', struct.pack('<d', v))[0], repr(v)))


if __name__ == '__main__':
    main()
