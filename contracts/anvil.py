"""anvil, the JSON-RPC chain for swarms of separate processes: install, start, deploy.

anvil comes from the npm package `@foundry-rs/anvil` (pinned), installed with the
machine's npm into the user's cache (`<cache>/swarm-node/anvil`), never into the
repository. It listens on loopback only. With `state`, it loads that file at start
if it exists and writes its whole chain there when it stops (and every second),
so a restarted anvil goes on from where it was.

Accounts: anvil's first development key (`DEV_KEY`, public, for dev chains only)
deploys the contract; `fund` gives any address ether with `anvil_setBalance`.
"""

import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from web3 import AsyncHTTPProvider, AsyncWeb3

from contracts.client import ChainError, Deployment, deploy
from contracts.params import ChainParams

__all__ = ["ANVIL_PACKAGE", "DEV_KEY", "Anvil", "deploy_on", "ensure_anvil", "fund"]

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
        cls, port: int, state: Path | None = None, log: Path | None = None, timeout: float = 30
    ) -> "Anvil":
        args = [str(ensure_anvil()), "--host", "127.0.0.1", "--port", str(port)]
        if state is not None:
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
    """Deploy the contract on a dev chain from `DEV_KEY`."""
    params = params or ChainParams()
    provider = AsyncHTTPProvider(rpc_url)
    w3 = AsyncWeb3(provider)
    try:
        address = await deploy(w3, Account.from_key(DEV_KEY), params)
        return Deployment(rpc_url, int(await w3.eth.chain_id), address)
    finally:
        await provider.disconnect()


async def fund(rpc_url: str, address: str, wei: int) -> None:
    """Set `address`'s balance on a dev chain (anvil's `anvil_setBalance`)."""
    provider = AsyncHTTPProvider(rpc_url)
    try:
        response = await provider.make_request("anvil_setBalance", [address, hex(wei)])
    finally:
        await provider.disconnect()
    if "error" in response:
        raise ChainError(f"cannot fund {address}: {response['error']}")
