//! JSON-RPC error shapes and bounds, against the real binary.

use crate::common::*;
use crate::{dev_keys, hex0x, transfer};
use alloy_primitives::Address;
use serde_json::{json, Value};
use std::time::Duration;

fn code(v: &Value) -> i64 {
    v["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error in {v}"))
}

#[test]
fn errors_follow_jsonrpc_and_geth_and_the_node_keeps_serving() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&[], tmp.path());
    let p = node.http;
    let post = |body: &str| -> Value {
        let (_, b) = http_post(p, body.as_bytes(), &[]).expect("post");
        serde_json::from_slice(&b)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&b)))
    };
    assert_eq!(code(&post("{not json")), -32700);
    assert_eq!(code(&post(r#"{"jsonrpc":"2.0","id":1}"#)), -32600);
    assert_eq!(
        code(&post(
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_noSuchMethod","params":[]}"#
        )),
        -32601
    );
    assert_eq!(
        code(&rpc_full(p, "eth_getBalance", json!(["0x12"])).expect("call")),
        -32602
    );
    assert_eq!(
        code(&rpc_full(p, "eth_getBalance", json!([])).expect("call")),
        -32602
    );
    let too_many: Vec<&str> = vec!["0x0"; 257];
    let r = rpc_full(
        p,
        "eth_getProof",
        json!([
            "0x000000000000000000000000000000000000bEEF",
            too_many,
            "latest"
        ]),
    )
    .expect("call");
    assert_eq!(code(&r), -32602, "{r}");
    assert_eq!(
        code(&rpc_full(p, "eth_getBlockByNumber", json!(["newest", false])).expect("call")),
        -32602
    );

    // Garbage transaction bytes: -32000 with a decoding message; nothing changes.
    let head = rpc(p, "eth_blockNumber", json!([]));
    let garbage = rpc_full(p, "eth_sendRawTransaction", json!(["0xdeadbeef"])).expect("call");
    assert_eq!(code(&garbage), -32000, "{garbage}");
    let keys = dev_keys();
    // Wrong chain id.
    let mut wrong = platon_messages::TxBody::Legacy {
        chain_id: Some(1),
        nonce: 0,
        gas_price: alloy_primitives::U256::from(10_000_000_000u64),
        gas_limit: 21_000,
        to: platon_messages::TxKind::Call(Address::repeat_byte(1)),
        value: alloy_primitives::U256::from(1),
        input: Default::default(),
    }
    .sign(&keys[0]);
    let r = rpc_full(p, "eth_sendRawTransaction", json!([hex0x(&wrong.encoded)])).expect("call");
    assert_eq!(code(&r), -32000);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("invalid chain id"),
        "{r}"
    );
    // Fee cap below the base fee.
    let cheap = platon_messages::TxBody::DynamicFee {
        chain_id: crate::CHAIN_ID,
        nonce: 0,
        max_priority_fee_per_gas: alloy_primitives::U256::from(1),
        max_fee_per_gas: alloy_primitives::U256::from(1),
        gas_limit: 21_000,
        to: platon_messages::TxKind::Call(Address::repeat_byte(1)),
        value: alloy_primitives::U256::from(1),
        input: Default::default(),
        access_list: vec![],
    }
    .sign(&keys[0]);
    let r = rpc_full(p, "eth_sendRawTransaction", json!([hex0x(&cheap.encoded)])).expect("call");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("transaction underpriced"),
        "{r}"
    );
    // Unfunded sender.
    let poor = platon_crypto::SecretKey::from_bytes(&[9u8; 32]).expect("key");
    wrong = transfer(&poor, 0, Address::repeat_byte(1), 1);
    let r = rpc_full(p, "eth_sendRawTransaction", json!([hex0x(&wrong.encoded)])).expect("call");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("insufficient funds for gas * price + value"),
        "{r}"
    );
    // A good one, then the same again (already known or, once mined, nonce too low), then a low nonce.
    let ok = transfer(&keys[1], 0, Address::repeat_byte(2), 5);
    let hash = rpc(p, "eth_sendRawTransaction", json!([hex0x(&ok.encoded)]));
    assert_eq!(hash.as_str(), Some(format!("{:#x}", ok.hash).as_str()));
    let again = rpc_full(p, "eth_sendRawTransaction", json!([hex0x(&ok.encoded)])).expect("call");
    let msg = again["error"]["message"].as_str().unwrap_or("").to_string();
    assert!(
        msg == "already known" || msg.starts_with("nonce too low"),
        "{again}"
    );
    wait_for("receipt", Duration::from_secs(20), || {
        let r = rpc(p, "eth_getTransactionReceipt", json!([hash]));
        (!r.is_null()).then_some(())
    });
    let low = transfer(&keys[1], 0, Address::repeat_byte(3), 5);
    let r = rpc_full(p, "eth_sendRawTransaction", json!([hex0x(&low.encoded)])).expect("call");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("nonce too low"),
        "{r}"
    );
    assert_eq!(
        q(&rpc(p, "eth_blockNumber", json!([]))),
        q(&head) + 1,
        "only the good transfer made a block"
    );

    // Bounds: a batch over the limit and a body over the limit are refused, not served.
    let batch: Vec<Value> = (0..101)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"eth_chainId","params":[]}))
        .collect();
    let r = post(&Value::Array(batch).to_string());
    assert!(
        r.get("error").is_some()
            || r.as_array()
                .is_some_and(|a| a.iter().all(|x| x.get("error").is_some())),
        "{r}"
    );
    let small: Vec<Value> = (0..3)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"eth_chainId","params":[]}))
        .collect();
    assert_eq!(
        post(&Value::Array(small).to_string())
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
        "00".repeat(6 * 1024 * 1024)
    );
    // The server answers 413 and may close the connection before the whole body is written.
    match http_post(p, huge.as_bytes(), &[]) {
        Ok((status, _)) => assert_eq!(status, 413, "oversized body"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "{e}"
        ),
    }

    // Two transfers each affordable alone but not together: the second never lands and does not
    // linger in the pool (refused at admission or discarded after the executor rejects it).
    let fresh = platon_crypto::SecretKey::from_bytes(&[0x31u8; 32]).expect("key");
    let max_fee: u64 = 10_000_000_000;
    let budget = 21_000 * max_fee;
    let fund = transfer(&keys[4], 0, fresh.address(), 2 * budget);
    let fund_hash = rpc(p, "eth_sendRawTransaction", json!([hex0x(&fund.encoded)]));
    wait_for("funding", Duration::from_secs(20), || {
        (!rpc(p, "eth_getTransactionReceipt", json!([fund_hash])).is_null()).then_some(())
    });
    let first = transfer(&fresh, 0, Address::repeat_byte(5), budget);
    let second = transfer(&fresh, 1, Address::repeat_byte(5), 1);
    let batch = json!([
        {"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[hex0x(&first.encoded)]},
        {"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransaction","params":[hex0x(&second.encoded)]},
    ]);
    post(&batch.to_string());
    wait_for("first lands", Duration::from_secs(20), || {
        (!rpc(
            p,
            "eth_getTransactionReceipt",
            json!([format!("{:#x}", first.hash)]),
        )
        .is_null())
        .then_some(())
    });
    wait_for("pool drained", Duration::from_secs(20), || {
        let s = rpc(p, "txpool_status", json!([]));
        (s == json!({"pending": "0x0", "queued": "0x0"})).then_some(())
    });
    assert!(rpc(
        p,
        "eth_getTransactionReceipt",
        json!([format!("{:#x}", second.hash)])
    )
    .is_null());
    assert!(rpc(
        p,
        "eth_getTransactionByHash",
        json!([format!("{:#x}", second.hash)])
    )
    .is_null());

    // Still serving.
    assert_eq!(
        q(&rpc(p, "eth_chainId", json!([]))),
        u128::from(crate::CHAIN_ID)
    );
    assert_eq!(
        rpc(p, "net_version", json!([])),
        json!(crate::CHAIN_ID.to_string())
    );
}

#[test]
fn new_heads_subscription_over_websocket() {
    use jsonrpsee::core::client::SubscriptionClientT;
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&[], tmp.path());
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        let client = jsonrpsee::ws_client::WsClientBuilder::default()
            .build(format!("ws://127.0.0.1:{}", node.http))
            .await
            .expect("ws");
        let mut sub: jsonrpsee::core::client::Subscription<Value> = client
            .subscribe(
                "eth_subscribe",
                jsonrpsee::rpc_params!["newHeads"],
                "eth_unsubscribe",
            )
            .await
            .expect("subscribe");
        let keys = dev_keys();
        let tx = transfer(&keys[2], 0, Address::repeat_byte(7), 1);
        let port = node.http;
        let raw = hex0x(&tx.encoded);
        tokio::task::spawn_blocking(move || rpc(port, "eth_sendRawTransaction", json!([raw])))
            .await
            .expect("send");
        let head = tokio::time::timeout(Duration::from_secs(20), sub.next())
            .await
            .expect("a head in time")
            .expect("open")
            .expect("json");
        assert_eq!(head["number"], json!("0x1"));
        assert!(head["hash"].as_str().is_some_and(|h| h.len() == 66));
        let bad = client
            .subscribe::<Value, _>(
                "eth_subscribe",
                jsonrpsee::rpc_params!["pendingTransactionsX"],
                "eth_unsubscribe",
            )
            .await;
        assert!(bad.is_err());
    });
}

#[test]
fn dev_period_produces_empty_blocks_on_a_timer() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&["--dev.period", "1"], tmp.path());
    wait_for("timer blocks", Duration::from_secs(30), || {
        (q(&rpc(node.http, "eth_blockNumber", json!([]))) >= 2).then_some(())
    });
    let b = rpc(node.http, "eth_getBlockByNumber", json!(["0x1", false]));
    assert_eq!(b["transactions"], json!([]));
    assert_eq!(b["gasUsed"], json!("0x0"));
}

/// Init code that stores 1 at slot 0 and emits LOG1(topic 0xaa) on every call, then returns the
/// runtime (hand-assembled, so the test needs no compiler).
fn logger_init_code() -> String {
    // runtime: PUSH1 1 PUSH0 SSTORE  PUSH1 0xaa PUSH0 PUSH0 LOG1  STOP
    let runtime = "6001 5f 55 60aa 5f 5f a1 00".replace(' ', "");
    let len = runtime.len() / 2;
    // init: PUSH1 len PUSH1 off PUSH0 CODECOPY PUSH1 len PUSH0 RETURN, then the runtime.
    let init_len = 10;
    format!("0x60{len:02x}60{init_len:02x}5f3960{len:02x}5ff3{runtime}")
}

#[test]
fn contract_methods_refuse_bad_input_and_bound_their_answers() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = tmp.path().join("node.toml");
    std::fs::write(
        &cfg,
        "[evm]\nmax_logs = 2\nmax_log_range = 3\nmax_filters = 2\nmax_trace_steps = 10\n",
    )
    .expect("config");
    let node = NodeProc::start_dev(&["--config", cfg.to_str().expect("utf8")], tmp.path());
    let p = node.http;
    let from = format!("{}", dev_keys()[0].address());

    // Deploy the logger and call it four times: four blocks, one log each.
    let deploy = rpc(
        p,
        "eth_sendTransaction",
        json!([{ "from": from, "data": logger_init_code() }]),
    );
    let receipt = wait_for("deployment receipt", Duration::from_secs(20), || {
        let r = rpc(p, "eth_getTransactionReceipt", json!([deploy]));
        (!r.is_null()).then_some(r)
    });
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let contract = receipt["contractAddress"]
        .as_str()
        .expect("address")
        .to_string();
    let deployed = rpc(p, "eth_getCode", json!([contract, "latest"]));
    assert_eq!(deployed, "0x60015f5560aa5f5fa100");
    for _ in 0..4 {
        let h = rpc(
            p,
            "eth_sendTransaction",
            json!([{ "from": from, "to": contract }]),
        );
        wait_for("call receipt", Duration::from_secs(20), || {
            let r = rpc(p, "eth_getTransactionReceipt", json!([h]));
            (!r.is_null()).then_some(r)
        });
    }
    let head = q(&rpc(p, "eth_blockNumber", json!([]))) as u64;
    // The contract's storage as the state holds it, now and before its first call.
    let slot0 = rpc(p, "eth_getStorageAt", json!([contract, "0x0", "latest"]));
    assert_eq!(slot0, format!("0x{:064x}", 1));
    let before = rpc(
        p,
        "eth_getStorageAt",
        json!([contract, "0x0", format!("{:#x}", head - 4)]),
    );
    assert_eq!(before, format!("0x{:064x}", 0));

    // Result bound: more than max_logs matches is an error, not a truncated answer.
    let all = rpc_full(p, "eth_getLogs", json!([{ "address": contract, "fromBlock": format!("{:#x}", head - 2), "toBlock": "latest" }])).expect("call");
    assert_eq!(code(&all), -32005, "{all}");
    let two = rpc(
        p,
        "eth_getLogs",
        json!([{ "address": contract, "fromBlock": format!("{:#x}", head - 1), "toBlock": "latest" }]),
    );
    assert_eq!(two.as_array().map(Vec::len), Some(2), "{two}");
    assert_eq!(two[0]["topics"][0], format!("0x{:064x}", 0xaa));
    // Range bound.
    let wide = rpc_full(
        p,
        "eth_getLogs",
        json!([{ "fromBlock": "0x0", "toBlock": "latest" }]),
    )
    .expect("call");
    assert_eq!(code(&wide), -32005, "{wide}");
    // A topic that is not there: nothing, found through the bloom.
    let none = rpc(
        p,
        "eth_getLogs",
        json!([{ "fromBlock": format!("{:#x}", head - 1), "topics": [format!("0x{:064x}", 0xbb)] }]),
    );
    assert_eq!(none, json!([]));

    // Malformed filters and options: -32602, nothing installed.
    for bad in [
        json!([{ "address": "0x1234" }]),
        json!([{ "topics": "0xaa" }]),
        json!([{ "topics": [null, null, null, null, null] }]),
        json!([{ "blockHash": format!("0x{:064x}", 1), "fromBlock": "0x1" }]),
        json!([{ "fromBlock": "yesterday" }]),
        json!([{ "bogus": 1 }]),
    ] {
        let r = rpc_full(p, "eth_getLogs", bad.clone()).expect("call");
        assert_eq!(code(&r), -32602, "{bad} -> {r}");
        let r = rpc_full(p, "eth_newFilter", bad.clone()).expect("call");
        assert_eq!(code(&r), -32602, "{bad} -> {r}");
    }
    // Filter bound, unknown ids, uninstall.
    let f1 = rpc(p, "eth_newBlockFilter", json!([]));
    let f2 = rpc(p, "eth_newFilter", json!([{ "address": contract }]));
    let f3 = rpc_full(p, "eth_newBlockFilter", json!([])).expect("call");
    assert_eq!(code(&f3), -32000, "{f3}");
    assert_eq!(rpc(p, "eth_uninstallFilter", json!([f2])), json!(true));
    assert_eq!(rpc(p, "eth_uninstallFilter", json!([f2])), json!(false));
    let gone = rpc_full(p, "eth_getFilterChanges", json!([f2])).expect("call");
    assert_eq!(code(&gone), -32000, "{gone}");
    assert_eq!(rpc(p, "eth_getFilterChanges", json!([f1])), json!([]));
    let h = rpc(
        p,
        "eth_sendTransaction",
        json!([{ "from": from, "to": contract }]),
    );
    wait_for("receipt", Duration::from_secs(20), || {
        let r = rpc(p, "eth_getTransactionReceipt", json!([h]));
        (!r.is_null()).then_some(r)
    });
    let changes = rpc(p, "eth_getFilterChanges", json!([f1]));
    assert_eq!(changes.as_array().map(Vec::len), Some(1), "{changes}");

    // Calls: bad objects, bad overrides, unknown tracers.
    for (method, params) in [
        ("eth_call", json!([{ "to": 5 }])),
        (
            "eth_call",
            json!([{ "to": contract, "gasPrice": "0x1", "maxFeePerGas": "0x1" }]),
        ),
        (
            "eth_call",
            json!([{ "to": contract }, "latest", { contract.clone(): { "balance": "lots" } }]),
        ),
        (
            "eth_call",
            json!([{ "to": contract }, "latest", { contract.clone(): { "nonsense": 1 } }]),
        ),
        (
            "eth_call",
            json!([{ "to": contract }, "latest", {}, { "difficulty": "0x1" }]),
        ),
        (
            "debug_traceCall",
            json!([{ "to": contract }, "latest", { "tracer": "4byteTracer" }]),
        ),
        ("debug_traceTransaction", json!(["0x12"])),
    ] {
        let r = rpc_full(p, method, params.clone()).expect("call");
        assert_eq!(code(&r), -32602, "{method} {params} -> {r}");
    }
    // A call that runs out of gas: geth's -32000 "out of gas"; a call to code that reverts empty: 3.
    let oog = rpc_full(p, "eth_call", json!([{ "to": contract, "gas": "0x5208" }])).expect("call");
    assert_eq!(code(&oog), -32000, "{oog}");
    assert_eq!(oog["error"]["message"], "out of gas");
    let revert = rpc_full(
        p,
        "eth_call",
        json!([{ "to": contract }, "latest", { contract.clone(): { "code": "0x5f5ffd" } }]),
    )
    .expect("call");
    assert_eq!(code(&revert), 3, "{revert}");
    assert_eq!(revert["error"]["data"], "0x");
    // Estimates: the logger needs more than a transfer, and its estimate is enough.
    let est = q(&rpc(
        p,
        "eth_estimateGas",
        json!([{ "from": from, "to": contract }]),
    ));
    assert!(est > 21_000, "{est}");
    let ok = rpc_full(
        p,
        "eth_call",
        json!([{ "from": from, "to": contract, "gas": format!("{est:#x}") }]),
    )
    .expect("call");
    assert!(ok.get("error").is_none(), "{ok}");
    // The struct logger sees the SSTORE, the LOG1 and the STOP at depth 1.
    let trace = rpc(
        p,
        "debug_traceCall",
        json!([{ "from": from, "to": contract }, "latest", {}]),
    );
    let ops: Vec<&str> = trace["structLogs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter_map(|l| l["op"].as_str())
        .collect();
    assert_eq!(
        ops,
        ["PUSH1", "PUSH0", "SSTORE", "PUSH1", "PUSH0", "PUSH0", "LOG1", "STOP"]
    );
    assert_eq!(trace["structLogs"][0]["depth"], 1);
    assert_eq!(trace["failed"], false);
    // A trace longer than evm.max_trace_steps (10) is refused, naming the bound; the client's own
    // smaller limit truncates as geth's does.
    let spin = json!({ contract.clone(): { "code": "0x5b5f56" } });
    let long = rpc_full(
        p,
        "debug_traceCall",
        json!([{ "to": contract, "gas": "0x10000" }, "latest", { "stateOverrides": spin }]),
    )
    .expect("call");
    assert_eq!(code(&long), -32000, "{long}");
    assert!(
        long["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("evm.max_trace_steps")),
        "{long}"
    );
    let short = rpc(
        p,
        "debug_traceCall",
        json!([{ "to": contract, "gas": "0x10000" }, "latest", { "stateOverrides": spin, "limit": 5 }]),
    );
    assert_eq!(
        short["structLogs"].as_array().map(Vec::len),
        Some(5),
        "{short}"
    );
    // eth_getLogs over a reversed range, or past the head: invalid params, as geth.
    let reversed = rpc_full(
        p,
        "eth_getLogs",
        json!([{ "fromBlock": "0x3", "toBlock": "0x2" }]),
    )
    .expect("call");
    assert_eq!(code(&reversed), -32602, "{reversed}");
    assert_eq!(reversed["error"]["message"], "invalid block range params");
    let future = rpc_full(
        p,
        "eth_getLogs",
        json!([{ "fromBlock": "0x1", "toBlock": format!("{:#x}", head + 100) }]),
    )
    .expect("call");
    assert_eq!(code(&future), -32602, "{future}");
    assert_eq!(
        future["error"]["message"],
        "block range extends beyond current head block"
    );
    // Still serving.
    assert_eq!(q(&rpc(p, "eth_blockNumber", json!([]))) as u64, head + 1);
}

/// A call that would run past `evm.rpc_timeout_ms` is abandoned with geth's "execution aborted"
/// error (eth_call, eth_estimateGas, eth_simulateV1), and the node keeps answering.
#[test]
fn calls_past_their_time_bound_are_aborted_and_the_node_keeps_answering() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = tmp.path().join("node.toml");
    std::fs::write(&cfg, "[evm]\nrpc_timeout_ms = 5\n").expect("config");
    let node = NodeProc::start_dev(&["--config", cfg.to_str().expect("utf8")], tmp.path());
    let p = node.http;
    let spinner = "0x00000000000000000000000000000000000000aa";
    // JUMPDEST PUSH0 JUMP: a loop that only its gas (the block limit, 30,000,000) would end.
    let spin = json!({ spinner: { "code": "0x5b5f56" } });
    let call = json!({ "to": spinner, "gas": "0x1c9c380" });
    let aborted = |r: &Value| {
        r["error"]["code"] == json!(-32000)
            && r["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("execution aborted (timeout = 5ms)"))
    };
    let started = std::time::Instant::now();
    let r = rpc_full(p, "eth_call", json!([call, "latest", spin])).expect("call");
    assert!(aborted(&r), "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered after {:?}",
        started.elapsed()
    );
    let r = rpc_full(p, "eth_estimateGas", json!([call, "latest", spin])).expect("call");
    assert!(
        aborted(&r)
            || r["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("execution aborted")),
        "{r}"
    );
    let sim =
        json!([{ "blockStateCalls": [{ "stateOverrides": spin, "calls": [call] }] }, "latest"]);
    let r = rpc_full(p, "eth_simulateV1", sim).expect("call");
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("execution aborted")),
        "{r}"
    );
    // An ordinary call still answers.
    let ok = rpc(p, "eth_call", json!([{ "to": spinner }, "latest"]));
    assert_eq!(ok, json!("0x"));
    assert_eq!(q(&rpc(p, "eth_blockNumber", json!([]))), 0);
}

/// Each connection may make `http.max_requests_per_sec` calls a second: beyond, calls are answered
/// -32005 without running; another connection is unaffected; the bucket refills; a batch counts
/// each of its calls.
#[test]
fn a_connection_past_its_request_rate_is_refused_and_others_are_not() {
    use jsonrpsee::core::client::ClientT;
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = tmp.path().join("node.toml");
    std::fs::write(&cfg, "[http]\nmax_requests_per_sec = 20\n").expect("config");
    let node = NodeProc::start_dev(&["--config", cfg.to_str().expect("utf8")], tmp.path());
    let url = format!("ws://127.0.0.1:{}", node.http);
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        let greedy = jsonrpsee::ws_client::WsClientBuilder::default()
            .build(&url)
            .await
            .expect("ws");
        let calls = (0..60)
            .map(|_| greedy.request::<String, _>("eth_blockNumber", jsonrpsee::rpc_params![]));
        let results = futures::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let limited = results
            .iter()
            .filter(|r| {
                matches!(r, Err(jsonrpsee::core::ClientError::Call(e))
                    if e.code() == -32005 && e.message().contains("http.max_requests_per_sec"))
            })
            .count();
        assert!((15..=25).contains(&ok), "{ok} of 60 answered");
        assert_eq!(ok + limited, 60, "the rest refused with -32005");
        // Another connection has its own bucket.
        let polite = jsonrpsee::ws_client::WsClientBuilder::default()
            .build(&url)
            .await
            .expect("ws");
        let n: String = polite
            .request("eth_blockNumber", jsonrpsee::rpc_params![])
            .await
            .expect("another connection is served");
        assert_eq!(n, "0x0");
        // A second later the greedy one is served again.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let again: Result<String, _> = greedy
            .request("eth_blockNumber", jsonrpsee::rpc_params![])
            .await;
        assert!(again.is_ok(), "{again:?}");
    });
    // A batch counts each call: 30 in one connection's batch are all refused, 10 all answered.
    let batch = |n: usize| {
        let body: Vec<Value> = (0..n)
            .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []}))
            .collect();
        let (_, resp) =
            http_post(node.http, Value::Array(body).to_string().as_bytes(), &[]).expect("post");
        serde_json::from_slice::<Vec<Value>>(&resp).expect("batch answer")
    };
    let big = batch(30);
    assert_eq!(big.len(), 30);
    assert!(
        big.iter().all(|r| r["error"]["code"] == json!(-32005)),
        "{big:?}"
    );
    let small = batch(10);
    assert!(small.iter().all(|r| r.get("result").is_some()), "{small:?}");
}
