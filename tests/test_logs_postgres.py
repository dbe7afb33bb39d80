"""PostgreSQL server logs: stderr with common prefixes, csvlog and jsonlog, log_statement with
log_duration, auto_explain plans, and bursts as the unit for N+1s."""

import json

import pytest

from tools.logs.ecto import LoggedQuery, Request
from tools.logs.postgres import params_json, read_csvlog, read_jsonlog, read_stderr
from tools.logs.summary import detect_format, summarize

# Excerpts of real logs: PostgreSQL 15.18 (Debian), log_min_duration_statement = 0,
# log_line_prefix = '%m [%p] %q%u@%d ', psycopg 3 running an Ecto-shaped preload six times.
REAL_STDERR = "\n".join([
    '2026-11-28 01:21:22.886 UTC [20070] postgres@postgres LOG:  duration: 0.312 ms  parse <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    '2026-11-28 01:21:22.887 UTC [20070] postgres@postgres LOG:  duration: 0.207 ms  bind <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:22.887 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '1'",
    '2026-11-28 01:21:22.918 UTC [20070] postgres@postgres LOG:  duration: 31.121 ms  execute <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:22.918 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '1'",
    '2026-11-28 01:21:22.919 UTC [20070] postgres@postgres LOG:  duration: 0.091 ms  parse <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    '2026-11-28 01:21:22.919 UTC [20070] postgres@postgres LOG:  duration: 0.081 ms  bind <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:22.919 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '2'",
    '2026-11-28 01:21:22.948 UTC [20070] postgres@postgres LOG:  duration: 29.206 ms  execute <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:22.948 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '2'",
    '2026-11-28 01:21:22.949 UTC [20070] postgres@postgres LOG:  duration: 0.092 ms  parse <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    '2026-11-28 01:21:22.949 UTC [20070] postgres@postgres LOG:  duration: 0.079 ms  bind <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:22.949 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '3'",
    '2026-11-28 01:21:22.978 UTC [20070] postgres@postgres LOG:  duration: 28.395 ms  execute <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:22.978 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '3'",
    '2026-11-28 01:21:22.979 UTC [20070] postgres@postgres LOG:  duration: 0.091 ms  parse <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    '2026-11-28 01:21:22.979 UTC [20070] postgres@postgres LOG:  duration: 0.079 ms  bind <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:22.979 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '4'",
    '2026-11-28 01:21:23.007 UTC [20070] postgres@postgres LOG:  duration: 28.565 ms  execute <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:23.007 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '4'",
    '2026-11-28 01:21:23.008 UTC [20070] postgres@postgres LOG:  duration: 0.091 ms  parse <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    '2026-11-28 01:21:23.008 UTC [20070] postgres@postgres LOG:  duration: 0.079 ms  bind <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:23.008 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '5'",
    '2026-11-28 01:21:23.037 UTC [20070] postgres@postgres LOG:  duration: 28.463 ms  execute <unnamed>: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:23.037 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '5'",
    '2026-11-28 01:21:23.038 UTC [20070] postgres@postgres LOG:  duration: 0.094 ms  parse _pg3_0: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    '2026-11-28 01:21:23.038 UTC [20070] postgres@postgres LOG:  duration: 0.078 ms  bind _pg3_0: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:23.038 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '6'",
    '2026-11-28 01:21:23.067 UTC [20070] postgres@postgres LOG:  duration: 28.528 ms  execute _pg3_0: SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"',
    "2026-11-28 01:21:23.067 UTC [20070] postgres@postgres DETAIL:  parameters: $1 = '6'",
    '2026-11-28 01:21:23.097 UTC [20070] postgres@postgres LOG:  duration: 29.457 ms  statement: SELECT count(*)',
    '\tFROM comments',
    "\tWHERE body = 'x'",
    "2026-11-28 01:21:23.098 UTC [20070] postgres@postgres LOG:  duration: 0.344 ms  statement: SELECT title FROM posts WHERE id = 3 AND title <> 'it''s'",
    '2026-11-28 01:21:23.098 UTC [20070] postgres@postgres ERROR:  relation "nope" does not exist at character 15',
    '2026-11-28 01:21:23.098 UTC [20070] postgres@postgres STATEMENT:  SELECT * FROM nope WHERE id = $1',
]) + "\n"
REAL_CSVLOG = "\n".join([
    '2026-11-28 01:21:22.887 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,7,"BIND",2026-11-28 01:21:22 UTC,3/6,0,LOG,00000,"duration: 0.207 ms  bind <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'1\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:22.918 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,8,"SELECT",2026-11-28 01:21:22 UTC,3/6,0,LOG,00000,"duration: 31.121 ms  execute <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'1\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:22.919 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,9,"PARSE",2026-11-28 01:21:22 UTC,3/7,0,LOG,00000,"duration: 0.091 ms  parse <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""",,,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:22.919 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,10,"BIND",2026-11-28 01:21:22 UTC,3/7,0,LOG,00000,"duration: 0.081 ms  bind <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'2\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:22.948 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,11,"SELECT",2026-11-28 01:21:22 UTC,3/7,0,LOG,00000,"duration: 29.206 ms  execute <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'2\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:22.949 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,12,"PARSE",2026-11-28 01:21:22 UTC,3/8,0,LOG,00000,"duration: 0.092 ms  parse <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""",,,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:22.949 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,13,"BIND",2026-11-28 01:21:22 UTC,3/8,0,LOG,00000,"duration: 0.079 ms  bind <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'3\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:22.978 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,14,"SELECT",2026-11-28 01:21:22 UTC,3/8,0,LOG,00000,"duration: 28.395 ms  execute <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'3\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:22.979 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,15,"PARSE",2026-11-28 01:21:22 UTC,3/9,0,LOG,00000,"duration: 0.091 ms  parse <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""",,,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:22.979 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,16,"BIND",2026-11-28 01:21:22 UTC,3/9,0,LOG,00000,"duration: 0.079 ms  bind <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'4\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:23.007 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,17,"SELECT",2026-11-28 01:21:22 UTC,3/9,0,LOG,00000,"duration: 28.565 ms  execute <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'4\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:23.008 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,18,"PARSE",2026-11-28 01:21:22 UTC,3/10,0,LOG,00000,"duration: 0.091 ms  parse <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""",,,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:23.008 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,19,"BIND",2026-11-28 01:21:22 UTC,3/10,0,LOG,00000,"duration: 0.079 ms  bind <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'5\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:23.037 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,20,"SELECT",2026-11-28 01:21:22 UTC,3/10,0,LOG,00000,"duration: 28.463 ms  execute <unnamed>: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'5\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:23.038 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,21,"PARSE",2026-11-28 01:21:22 UTC,3/11,0,LOG,00000,"duration: 0.094 ms  parse _pg3_0: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""",,,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:23.038 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,22,"BIND",2026-11-28 01:21:22 UTC,3/12,0,LOG,00000,"duration: 0.078 ms  bind _pg3_0: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'6\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:23.067 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,23,"SELECT",2026-11-28 01:21:22 UTC,3/12,0,LOG,00000,"duration: 28.528 ms  execute _pg3_0: SELECT c0.""id"", c0.""body"", c0.""post_id"", c0.""post_id"" FROM ""comments"" AS c0 WHERE (c0.""post_id"" = $1) ORDER BY c0.""post_id""","parameters: $1 = \'6\'",,,,,,,,"","client backend",,6838786543065574572',
    '2026-11-28 01:21:23.097 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,24,"SELECT",2026-11-28 01:21:22 UTC,3/0,0,LOG,00000,"duration: 29.457 ms  statement: SELECT count(*)',
    'FROM comments',
    'WHERE body = \'x\'",,,,,,,,,"","client backend",,8478070862499835687',
    '2026-11-28 01:21:23.098 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,25,"SELECT",2026-11-28 01:21:22 UTC,3/0,0,LOG,00000,"duration: 0.344 ms  statement: SELECT title FROM posts WHERE id = 3 AND title <> \'it\'\'s\'",,,,,,,,,"","client backend",,-5380811444102601711',
    '2026-11-28 01:21:23.098 UTC,"postgres","postgres",20070,"127.0.0.1:47890",6b0a2c92.4e66,26,"PARSE",2026-11-28 01:21:22 UTC,3/15,0,ERROR,42P01,"relation ""nope"" does not exist",,,,,,"SELECT * FROM nope WHERE id = $1",15,,"","client backend",,0',
]) + "\n"
REAL_JSONLOG = "\n".join([
    '{"timestamp":"2026-11-28 01:21:22.886 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":6,"ps":"PARSE","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/6","txid":0,"error_severity":"LOG","message":"duration: 0.312 ms  parse <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:22.887 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":7,"ps":"BIND","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/6","txid":0,"error_severity":"LOG","message":"duration: 0.207 ms  bind <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'1\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:22.918 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":8,"ps":"SELECT","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/6","txid":0,"error_severity":"LOG","message":"duration: 31.121 ms  execute <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'1\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:22.919 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":9,"ps":"PARSE","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/7","txid":0,"error_severity":"LOG","message":"duration: 0.091 ms  parse <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:22.919 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":10,"ps":"BIND","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/7","txid":0,"error_severity":"LOG","message":"duration: 0.081 ms  bind <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'2\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:22.948 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":11,"ps":"SELECT","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/7","txid":0,"error_severity":"LOG","message":"duration: 29.206 ms  execute <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'2\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:22.949 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":12,"ps":"PARSE","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/8","txid":0,"error_severity":"LOG","message":"duration: 0.092 ms  parse <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:22.949 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":13,"ps":"BIND","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/8","txid":0,"error_severity":"LOG","message":"duration: 0.079 ms  bind <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'3\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:22.978 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":14,"ps":"SELECT","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/8","txid":0,"error_severity":"LOG","message":"duration: 28.395 ms  execute <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'3\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:22.979 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":15,"ps":"PARSE","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/9","txid":0,"error_severity":"LOG","message":"duration: 0.091 ms  parse <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:22.979 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":16,"ps":"BIND","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/9","txid":0,"error_severity":"LOG","message":"duration: 0.079 ms  bind <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'4\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:23.007 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":17,"ps":"SELECT","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/9","txid":0,"error_severity":"LOG","message":"duration: 28.565 ms  execute <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'4\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:23.008 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":18,"ps":"PARSE","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/10","txid":0,"error_severity":"LOG","message":"duration: 0.091 ms  parse <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:23.008 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":19,"ps":"BIND","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/10","txid":0,"error_severity":"LOG","message":"duration: 0.079 ms  bind <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'5\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:23.037 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":20,"ps":"SELECT","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/10","txid":0,"error_severity":"LOG","message":"duration: 28.463 ms  execute <unnamed>: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'5\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:23.038 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":21,"ps":"PARSE","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/11","txid":0,"error_severity":"LOG","message":"duration: 0.094 ms  parse _pg3_0: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:23.038 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":22,"ps":"BIND","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/12","txid":0,"error_severity":"LOG","message":"duration: 0.078 ms  bind _pg3_0: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'6\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:23.067 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":23,"ps":"SELECT","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/12","txid":0,"error_severity":"LOG","message":"duration: 28.528 ms  execute _pg3_0: SELECT c0.\\"id\\", c0.\\"body\\", c0.\\"post_id\\", c0.\\"post_id\\" FROM \\"comments\\" AS c0 WHERE (c0.\\"post_id\\" = $1) ORDER BY c0.\\"post_id\\"","detail":"parameters: $1 = \'6\'","backend_type":"client backend","query_id":6838786543065574572}',
    '{"timestamp":"2026-11-28 01:21:23.097 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":24,"ps":"SELECT","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/0","txid":0,"error_severity":"LOG","message":"duration: 29.457 ms  statement: SELECT count(*)\\nFROM comments\\nWHERE body = \'x\'","backend_type":"client backend","query_id":8478070862499835687}',
    '{"timestamp":"2026-11-28 01:21:23.098 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":25,"ps":"SELECT","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/0","txid":0,"error_severity":"LOG","message":"duration: 0.344 ms  statement: SELECT title FROM posts WHERE id = 3 AND title <> \'it\'\'s\'","backend_type":"client backend","query_id":-5380811444102601711}',
    '{"timestamp":"2026-11-28 01:21:23.098 UTC","user":"postgres","dbname":"postgres","pid":20070,"remote_host":"127.0.0.1","remote_port":47890,"session_id":"6b0a2c92.4e66","line_num":26,"ps":"PARSE","session_start":"2026-11-28 01:21:22 UTC","vxid":"3/15","txid":0,"error_severity":"ERROR","state_code":"42P01","message":"relation \\"nope\\" does not exist","statement":"SELECT * FROM nope WHERE id = $1","cursor_position":15,"backend_type":"client backend","query_id":0}',
]) + "\n"

PRELOAD = 'SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"'


def queries(reader, text):
    return [e for e in reader(text.splitlines(True)) if isinstance(e, LoggedQuery)]


@pytest.mark.parametrize("reader, text, fmt", [(read_stderr, REAL_STDERR, "stderr"), (read_csvlog, REAL_CSVLOG, "csvlog"),
                                               (read_jsonlog, REAL_JSONLOG, "jsonlog")])
def test_the_three_formats_of_one_real_log_read_alike(reader, text, fmt):
    assert detect_format(text.splitlines()) == fmt
    qs = queries(reader, text)
    executes = [q for q in qs if q.sql == PRELOAD]
    # parse and bind are phases of the execute that follows: six executes, six queries
    assert [q.db_ms for q in executes] == [31.121, 29.206, 28.395, 28.565, 28.463, 28.528]
    assert [params_json(q.params) for q in executes] == [f'["{i}"]' for i in range(1, 7)]
    multi = next(q for q in qs if q.sql.startswith("SELECT count(*)"))
    assert multi.sql == "SELECT count(*)\nFROM comments\nWHERE body = 'x'" and multi.db_ms == 29.457
    literal = next(q for q in qs if "title <>" in q.sql)
    assert literal.sql == "SELECT title FROM posts WHERE id = 3 AND title <> 'it''s'" and literal.params is None
    error = qs[-1]
    assert (error.status, error.sql) == ("ERROR", "SELECT * FROM nope WHERE id = $1")
    assert error.error.startswith('relation "nope" does not exist')
    assert len({q.request_key for q in qs}) == 1  # one backend, no pause: one burst


def test_summaries_of_the_three_formats_agree(tmp_path):
    results = []
    for name, text in (("a.log", REAL_STDERR), ("b.csv", REAL_CSVLOG), ("c.json", REAL_JSONLOG)):
        path = tmp_path / name
        path.write_text(text)
        s = summarize([path])
        results.append([(g.fingerprint, g.calls, g.total_ms, g.params) for g in s.groups])
        (n1,) = [f for f in s.findings if f.kind == "n_plus_one"]
        assert (n1.count, n1.sql, n1.call_site) == (6, PRELOAD, None)
        assert "Repo.preload(posts, :comments)" in n1.fix
        assert any(f.kind == "query_error" and "nope" in f.fix for f in s.findings)
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("prefix, session", [
    ("2024-05-01 12:00:00 UTC [4242]: [3-1] user=app,db=shop,app=web,client=10.0.0.1 ", "4242"),  # pgBadger's advice
    ("2024-05-01 12:00:00.123 UTC [4242] app@shop ", "4242"),  # Debian's default
    ("2024-05-01 12:00:00 UTC:10.0.0.1(5432):app@shop:[4242]: ", "4242"),  # RDS
    ("1714564800.123 [4242] ", "4242"),  # %n
    ("2024-05-01 12:00:00.123 UTC 6632a1b0.1092 ", "6632a1b0.1092"),  # %c
    ("", None),  # no prefix: one unknown backend
])
def test_common_log_line_prefixes(prefix, session):
    text = (f"{prefix}LOG:  duration: 2.500 ms  execute <unnamed>: SELECT 1 WHERE $1 = $2\n"
            f"{prefix}DETAIL:  parameters: $1 = 'a', $2 = NULL\n")
    (q,) = queries(read_stderr, text)
    assert (q.sql, q.db_ms, q.session) == ("SELECT 1 WHERE $1 = $2", 2.5, session or "?")
    assert json.loads(params_json(q.params)) == ["a", None]


def test_log_statement_paired_with_log_duration():
    text = """2024-05-01 12:00:00.100 UTC [7] LOG:  statement: SELECT * FROM t WHERE id = 1
2024-05-01 12:00:00.100 UTC [8] LOG:  execute S_1: SELECT * FROM u WHERE id = $1
2024-05-01 12:00:00.100 UTC [8] DETAIL:  parameters: $1 = '9'
2024-05-01 12:00:00.105 UTC [7] LOG:  duration: 5.000 ms
2024-05-01 12:00:00.106 UTC [8] LOG:  duration: 0.300 ms
2024-05-01 12:00:00.200 UTC [7] LOG:  statement: SELECT 2
"""
    qs = queries(read_stderr, text)
    assert [(q.sql, q.db_ms, params_json(q.params)) for q in qs] == [
        ("SELECT * FROM t WHERE id = 1", 5.0, None), ("SELECT * FROM u WHERE id = $1", 0.3, '["9"]'),
        ("SELECT 2", 0.0, None)]


AUTO_EXPLAIN = """2024-05-01 12:00:03.000 UTC [4245] LOG:  duration: 2000.000 ms  plan:
	{
	  "Query Text": "SELECT * FROM big WHERE x = 1",
	  "Plan": {
	    "Node Type": "Seq Scan", "Relation Name": "big", "Alias": "big",
	    "Startup Cost": 0.00, "Total Cost": 18000.00, "Plan Rows": 1, "Plan Width": 4,
	    "Actual Startup Time": 0.1, "Actual Total Time": 1999.0, "Actual Rows": 1, "Actual Loops": 1,
	    "Filter": "(x = 1)", "Rows Removed by Filter": 999999
	  }
	}
"""


def test_auto_explain_json_plans_go_to_the_plan_model(tmp_path):
    path = tmp_path / "pg.log"
    path.write_text(AUTO_EXPLAIN + AUTO_EXPLAIN.replace("12:00:03", "12:00:09").replace("2000.000", "1500.000"))
    s = summarize([path])
    (group,) = s.groups
    assert (group.sql, group.calls, group.total_ms) == ("SELECT * FROM big WHERE x = 1", 2, 3500.0)
    assert group.plan["root"] == "Seq Scan" and group.plan["duration_ms"] == 2000.0
    assert "big" in group.plan["insights"][0]["title"]
    (slow,) = [f for f in s.findings if f.kind == "slow_query"]
    assert slow.fix.startswith("auto_explain's plan says:") and "create index(:big, [:x]" in slow.fix


def test_a_plan_beside_its_statement_is_not_counted_twice(tmp_path):
    path = tmp_path / "pg.log"
    path.write_text(AUTO_EXPLAIN + "2024-05-01 12:00:03.001 UTC [4245] LOG:  duration: 2000.100 ms  statement: "
                                   "SELECT * FROM big WHERE x = 1\n")
    (group,) = summarize([path]).groups
    assert group.calls == 1 and group.plan is not None


def test_bursts_split_at_a_pause():
    lines = []
    for second, ids in ((0, range(5)), (30, range(5, 10))):
        for i in ids:
            lines.append(f"2024-05-01 12:00:{second + i * 0.01:06.3f} UTC [5] LOG:  duration: 1.000 ms  execute "
                         f"<unnamed>: SELECT 1 FROM t WHERE id = $1\n")
            lines.append(f"2024-05-01 12:00:{second + i * 0.01:06.3f} UTC [5] DETAIL:  parameters: $1 = '{i}'\n")
    events = list(read_stderr(lines))
    units = [e for e in events if isinstance(e, Request)]
    assert len(units) == 2 and [u.query_count for u in units] == [5, 5]


def test_unrelated_and_broken_lines_are_skipped():
    text = ("garbage\n\tdangling continuation\n2024-05-01 12:00:00 UTC [1] LOG:  checkpoint starting: time\n"
            "2024-05-01 12:00:00 UTC [1] LOG:  duration: abc ms  statement: SELECT 1\n"
            "2024-05-01 12:00:00 UTC [1] LOG:  duration: 1.0 ms  statement: \n"
            "2024-05-01 12:00:00 UTC [1] ERROR:  canceling statement due to statement timeout\n"
            "2024-05-01 12:00:00 UTC [1] LOG:  duration: 1.0 ms  plan:\n\t{ not json\n")
    assert queries(read_stderr, text) == []
    assert queries(read_csvlog, 'x,"unterminated\n1,2,3\n') == []
    assert queries(read_jsonlog, '{"error_severity": "LOG", "message": 5}\n[1]\n{bad\n') == []


def test_params_json():
    assert params_json("parameters: $1 = 'it''s', $2 = NULL, $3 = '{\"a\": 1}'") == '["it\'s", null, "{\\"a\\": 1}"]'
    assert params_json("unnamed portal with parameters: $2 = 'x'") == '[null, "x"]'
    assert params_json("nothing here") is None and params_json(None) is None


@pytest.mark.parametrize("lines, fmt", [
    (["[info] GET /a", "[info] Sent 200 in 1ms"], "ecto"),
    (["\x1b[36m[debug] QUERY OK db=1.0ms"], "ecto"),
    (["12:00:00.123 request_id=Fx [info] GET /a"], "ecto"),
    (["2024-05-01 12:00:00 UTC [1] LOG:  duration: 1.0 ms  statement: SELECT 1"], "stderr"),
    (["nothing recognisable"], "ecto"),
])
def test_format_detection(lines, fmt):
    assert detect_format(lines) == fmt
