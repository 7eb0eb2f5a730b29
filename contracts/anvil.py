"""anvil, the JSON-RPC chain for swarms of separate processes: install, start, deploy.

anvil comes from the npm package `@foundry-rs/anvil` (pinned), installed with the
machine's npm into the user's cache (`<cache>/swarm-node/anvil`), never into the
repository. It listens on loopback only. With `state`, it loads that file at start
if it exists and writes its whole chain there when it stops (and every second),
so a restarted anvil goes on from where it was.

Accounts: `deploy_on` deploys the contract from a fresh key that anvil's first
development key (`DEV_KEY`, public, for dev chains only) stands in for as the
funder: `fund` gives any address ether with `anvil_setBalance`. A fresh deployer
puts each deployment at a new address, so a wiped chain redeployed is a new
deployment (chain id and contract) to every node, never the old one again.

The persistent local chain (`open_local_chain`, what `swarm up` runs): anvil with
its state in `<data_dir>/chain/anvil-state.json` and the deployment (chain id,
contract, last RPC URL) in `<data_dir>/chain/deployment.json`. A first start
deploys the contract; a later one loads the state, checks that the remembered
contract still has code and re-uses it, or deploys anew and says so (the state
was wiped or unreadable). Why anvil: its `--state` is a documented persistence
feature (loaded at start, written every second and at SIGTERM), while eth-tester's
py-evm chain has no persistence API. It listens on a free loopback port picked at
each start (the nodes find it through the deployment, not a fixed port), and its
own output goes to `<data_dir>/chain/anvil.log`. anvil stays in the swarm's
process group, so whatever stops the group stops anvil too (a Ctrl-C: anvil writes
its state on SIGINT as on SIGTERM; a write the nodes had not got mined stays in
their outboxes for the next start), and a swarm stopped by SIGTERM stops its nodes
first, then anvil.
"""

import asyncio
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from web3 import AsyncHTTPProvider, AsyncWeb3

from contracts.client import DEPLOYER_FUNDS, ChainError, Deployment, deploy
from contracts.params import ChainParams

__all__ = [
    "ANVIL_PACKAGE",
    "DEV_KEY",
    "Anvil",
    "LocalChain",
    "deploy_on",
    "ensure_anvil",
    "fund",
    "has_contract",
    "open_local_chain",
    "saved_chain",
]

ANVIL_PACKAGE = "@foundry-rs/anvil@1.7.1"
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def _cache() -> Path:
    base = os.environ.get("SWARM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "swarm-node"
    )
    return Path(base) / "anvil"


def ensure_anvil() -> Path:
    """The anvil binary, installed from npm first if missing."""
    home = _cache()
    found = sorted(home.glob("node_modules/@foundry-rs/anvil-*/bin/anvil"))
    if found:
        return found[0]
    home.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["npm", "install", "--prefix", str(home), "--no-audit", "--no-fund", ANVIL_PACKAGE],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except FileNotFoundError as exc:
        raise ChainError("npm is needed to install anvil and was not found") from exc
    except subprocess.CalledProcessError as exc:
        raise ChainError(f"npm could not install {ANVIL_PACKAGE}: {exc.stderr[-500:]}") from exc
    found = sorted(home.glob("node_modules/@foundry-rs/anvil-*/bin/anvil"))
    if not found:
        raise ChainError(f"{ANVIL_PACKAGE} installed no anvil binary for this platform")
    return found[0]


@dataclass
class Anvil:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        port: int,
        state: Path | None = None,
        log: Path | None = None,
        timeout: float = 30,
        load_only: bool = False,
    ) -> "Anvil":
        """anvil on loopback `port`; with `state`, loaded from it if it exists and
        written to it every second and at exit (`load_only`: loaded, never written)."""
        args = [str(ensure_anvil()), "--host", "127.0.0.1", "--port", str(port)]
        if state is not None and load_only:
            args += ["--load-state", str(state)]
        elif state is not None:
            args += ["--state", str(state), "--state-interval", "1"]
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        anvil = cls(process, port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ChainError(f"anvil exited at start with status {process.returncode}")
            if anvil.answers():
                return anvil
            time.sleep(0.1)
        anvil.stop()
        raise ChainError(f"anvil did not answer on port {port} within {timeout:g} s")

    def answers(self) -> bool:
        body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
        request = urllib.request.Request(self.rpc_url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (anvil writes its state), then wait."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def deploy_on(rpc_url: str, params: ChainParams | None = None) -> Deployment:
    """Deploy the contract on a dev chain from a fresh key (funded with
    `anvil_setBalance`), so that every deployment has an address of its own."""
    params = params or ChainParams()
    deployer = Account.create()
    await fund(rpc_url, deployer.address, DEPLOYER_FUNDS)
    provider = AsyncHTTPProvider(rpc_url)
    w3 = AsyncWeb3(provider)
    try:
        address = await deploy(w3, deployer, params)
        return Deployment(rpc_url, int(await w3.eth.chain_id), address)
    finally:
        await provider.disconnect()


async def has_contract(rpc_url: str, contract: str) -> bool:
    """Whether the chain at `rpc_url` has code at `contract`."""
    provider = AsyncHTTPProvider(rpc_url)
    try:
        code = await AsyncWeb3(provider).eth.get_code(AsyncWeb3.to_checksum_address(contract))
    finally:
        await provider.disconnect()
    return bool(code)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalChain:
    """A running persistent local chain and its deployment."""

    anvil: Anvil
    deployment: Deployment
    note: str
    """One line: deployed on a new chain, re-used, or deployed anew (and why)."""

    async def stop(self) -> None:
        """SIGTERM anvil (it writes its state) and wait for it."""
        await asyncio.to_thread(self.anvil.stop)


async def open_local_chain(
    data_dir: Path, params: ChainParams | None = None, port: int = 0
) -> LocalChain:
    """Start the persistent local chain of `data_dir` (see the module's docstring);
    `port` 0 picks a free loopback port."""
    home = data_dir / "chain"
    home.mkdir(parents=True, exist_ok=True)
    state, memo = home / "anvil-state.json", home / "deployment.json"
    had_state = state.exists()
    try:
        anvil = await asyncio.to_thread(
            Anvil.start, port or _free_port(), state, home / "anvil.log"
        )
    except ChainError as exc:
        if not had_state:
            raise
        raise ChainError(
            f"{exc}: it could not load the chain state {state} (its output: {home / 'anvil.log'});"
            " move the file away to start a new chain (every node then registers anew)"
        ) from exc
    try:
        known = Deployment.read(memo) if memo.exists() else None
        if known is not None and await has_contract(anvil.rpc_url, known.contract):
            deployment = Deployment(anvil.rpc_url, known.chain_id, known.contract)
            note = f"re-using contract {known.contract} (chain state loaded from {state})"
        else:
            deployment = await deploy_on(anvil.rpc_url, params)
            if known is None:
                note = f"deployed contract {deployment.contract} on a new chain ({state})"
            else:
                why = "was wiped" if not had_state else "does not hold it"
                note = (
                    f"the saved chain has no contract at {known.contract} (its state {state} "
                    f"{why}): deployed anew at {deployment.contract}; every node registers anew"
                )
        deployment.write(memo)
    except BaseException:
        await asyncio.to_thread(anvil.stop)
        raise
    return LocalChain(anvil, deployment, note)


async def fund(rpc_url: str, address: str, wei: int) -> None:
    """Set `address`'s balance on a dev chain (anvil's `anvil_setBalance`)."""
    provider = AsyncHTTPProvider(rpc_url)
    try:
        response = await provider.make_request("anvil_setBalance", [address, hex(wei)])
    finally:
        await provider.disconnect()
    if "error" in response:
        raise ChainError(f"cannot fund {address}: {response['error']}")


@contextmanager
def saved_chain(data_dir: Path) -> Iterator[Deployment]:
    """The saved local chain of `data_dir` (a stopped `swarm up`'s), started read-only
    on a free loopback port for as long as the block runs: its deployment, with the
    RPC URL it has now. The state file is loaded, never written (an audit changes
    nothing). `ChainError` if the data dir holds no chain or its contract is gone."""
    home = data_dir / "chain"
    state, memo = home / "anvil-state.json", home / "deployment.json"
    if not state.exists() or not memo.exists():
        raise ChainError(f"{data_dir} holds no saved local chain ({state} and {memo})")
    known = Deployment.read(memo)
    anvil = Anvil.start(_free_port(), state, home / "anvil.log", load_only=True)
    try:
        if not asyncio.run(has_contract(anvil.rpc_url, known.contract)):
            raise ChainError(f"the saved chain of {data_dir} has no contract at {known.contract}")
        yield Deployment(anvil.rpc_url, known.chain_id, known.contract)
    finally:
        anvil.stop()
