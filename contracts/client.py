"""A thin async layer over web3.py for the deployed `Swarm` contract.

`Chain` holds one `AsyncWeb3` and the contract. Reads return plain Python values
(`Member`, roots, counts); a write is built and signed here (`signed_call`) but
sent by the caller's outbox, which owns retries and nonces. Any failure to reach
the RPC becomes `ChainUnavailable`; a transaction the contract refuses becomes
`ChainRefused` with the contract's reason.

`Deployment` names a chain: its RPC URL (or `embedded`), chain id and the
contract's address; `swarm chain up` writes one as JSON.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_utils import ValidationError, to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import ContractLogicError, Web3Exception

from contracts.artifacts import load
from contracts.params import ChainParams
from swarm_errors import SwarmError

__all__ = [
    "DEPLOYER_FUNDS",
    "Chain",
    "ChainError",
    "ChainRefused",
    "ChainUnavailable",
    "Deployment",
    "Member",
    "deploy",
]

EMPTY = b"\0" * 32


def gas_limit(estimate: int) -> int:
    """The gas a write is sent with: its estimate plus a quarter and 20,000.

    The estimate is of the state when the write is signed; it can cost more when it
    is mined. A settlement writes each participant's `last_seen` (the block time):
    estimated right after another settlement that wrote the same time, those writes
    change nothing and cost little, and a second later each one is a full write.
    Sent with the bare estimate, such a settlement runs out of gas (found by the
    anvil fault test; `tests/node/chain/test_anvil.py` replays it).
    """
    return estimate * 5 // 4 + 20_000


class ChainError(SwarmError):
    """Something about the chain went wrong."""


class ChainUnavailable(ChainError):
    """The chain's RPC cannot be reached (or timed out)."""


class ChainRefused(ChainError):
    """The contract refused a call or transaction (its revert reason is the message)."""


@dataclass(frozen=True)
class Deployment:
    rpc_url: str
    chain_id: int
    contract: str

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def read(cls, path: str | Path) -> "Deployment":
        try:
            data = json.loads(Path(path).read_text())
            return cls(str(data["rpc_url"]), int(data["chain_id"]), str(data["contract"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ChainError(f"unreadable deployment file {path}: {exc}") from exc


@dataclass(frozen=True)
class Member:
    node: str
    endpoint: str
    model: str
    attestation: bytes
    stake: int
    unbonding: int
    release: int
    reputation: int
    since: int
    capable_since: int = 0
    """When its capability was last admitted (0: never, or its model changed since)."""
    last_seen: int = 0
    """Its last admission or settled batch it took part in."""

    @property
    def registered(self) -> bool:
        return self.since != 0

    def active(self, minimum: int) -> bool:
        """Registered with at least `minimum` bonded (the contract's `active`)."""
        return self.registered and self.stake >= minimum

    def capable(self, minimum: int, inactivity_limit: int, now: float) -> bool:
        """Active, admitted, and seen within the limit at time `now` (the contract's
        `capable`, read at a block's time)."""
        seen = max(self.capable_since, self.last_seen)
        return self.active(minimum) and self.capable_since != 0 and now <= seen + inactivity_limit


def _unavailable(exc: Exception) -> ChainError:
    if isinstance(exc, ContractLogicError):
        return ChainRefused(str(exc.message or exc).removeprefix("execution reverted: "))
    if type(exc).__name__ == "TransactionFailed":  # eth-tester's form of a revert
        return ChainRefused(str(exc).removeprefix("execution reverted: "))
    if isinstance(exc, ChainError):
        return exc
    return ChainUnavailable(f"chain RPC unavailable: {type(exc).__name__}: {exc}")


async def _guard(awaitable: Any) -> Any:
    try:
        return await awaitable
    except (Web3Exception, ValidationError, OSError, TimeoutError, ValueError) as exc:
        raise _unavailable(exc) from exc
    except Exception as exc:  # aiohttp client errors and the like from the provider
        if type(exc).__module__.startswith(("aiohttp", "requests", "urllib3", "eth_tester")):
            raise _unavailable(exc) from exc
        raise


class Chain:
    def __init__(self, w3: AsyncWeb3, contract: str, chain_id: int):
        self.w3 = w3
        self.address = to_checksum_address(contract)
        self.chain_id = chain_id
        self.contract = w3.eth.contract(address=self.address, abi=load()["abi"])
        self._min_stake: int | None = None
        self._initial: int | None = None
        self._limit: int | None = None

    @classmethod
    async def connect(cls, w3: AsyncWeb3, contract: str) -> "Chain":
        chain_id = await _guard(w3.eth.chain_id)
        code = await _guard(w3.eth.get_code(to_checksum_address(contract)))
        if not code:
            raise ChainError(f"no contract at {contract} on chain {chain_id}")
        return cls(w3, contract, int(chain_id))

    @classmethod
    async def at(cls, rpc_url: str, contract: str, timeout: float = 10.0) -> "Chain":
        """The contract on the chain at an HTTP RPC URL (the provider is closed again
        when that fails)."""
        w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        try:
            return await cls.connect(w3, contract)
        except BaseException:
            await w3.provider.disconnect()
            raise

    async def close(self) -> None:
        """Close the HTTP provider's sessions (an in-process provider has none)."""
        if isinstance(self.w3.provider, AsyncHTTPProvider):
            await self.w3.provider.disconnect()

    async def call(self, function: str, *args: Any) -> Any:
        return await _guard(getattr(self.contract.functions, function)(*args).call())

    async def member(self, node: str) -> Member:
        return Member(*(await self.call("member", to_checksum_address(node))))

    async def members(self) -> list[Member]:
        count = int(await self.call("count"))
        out: list[Member] = []
        while len(out) < count:
            page = await self.call("members", len(out), 100)
            if not page:
                break
            out.extend(Member(*m) for m in page)
        return out

    async def active(self, node: str) -> bool:
        """Registered with at least the minimum bonded stake: whose signatures count."""
        return bool(await self.call("active", to_checksum_address(node)))

    async def capable(self, node: str) -> bool:
        """May take part in rounds (the contract's `capable`)."""
        return bool(await self.call("capable", to_checksum_address(node)))

    async def inactivity_limit(self) -> int:
        """Seconds without a settled round before a re-test (set at deployment)."""
        if self._limit is None:
            self._limit = int(await self.call("inactivity_limit"))
        return self._limit

    async def initial_reputation(self) -> int:
        """The reputation a node registers with (set at deployment, so read once)."""
        if self._initial is None:
            self._initial = int(await self.call("initial_reputation"))
        return self._initial

    async def min_stake(self) -> int:
        """The contract's minimum stake (set at deployment, so read once)."""
        if self._min_stake is None:
            self._min_stake = int(await self.call("min_stake"))
        return self._min_stake

    async def batches(self, node: str) -> int:
        return int(await self.call("batches", to_checksum_address(node)))

    async def root(self, node: str, batch: int) -> bytes | None:
        root = bytes(await self.call("root", to_checksum_address(node), batch))
        return None if root == EMPTY else root

    async def settled(self, node: str, batch: int) -> bool:
        return bool(await self.call("settled", to_checksum_address(node), batch))

    async def proves(self, node: str, batch: int, digest: bytes, proof: list[bytes]) -> bool:
        return bool(await self.call("proves", to_checksum_address(node), batch, digest, proof))

    async def balance(self, address: str) -> int:
        return int(await _guard(self.w3.eth.get_balance(to_checksum_address(address))))

    async def block_number(self) -> int:
        return int(await _guard(self.w3.eth.block_number))

    async def block_time(self, number: int) -> int:
        """The timestamp of block `number`."""
        block = await _guard(self.w3.eth.get_block(number))
        return int(block["timestamp"])

    async def nonce(self, address: str, pending: bool = True) -> int:
        """The next nonce of `address`, counting transactions still pending (or, with
        `pending=False`, only mined ones)."""
        block = "pending" if pending else "latest"
        return int(
            await _guard(self.w3.eth.get_transaction_count(to_checksum_address(address), block))
        )

    async def signed_call(
        self, account: Any, function: str, args: list[Any], value: int, nonce: int
    ) -> tuple[str, bytes]:
        """A signed transaction calling `function(*args)`: (its hash, its raw bytes).
        Gas is estimated now (`gas_limit`), so a call the contract would refuse fails
        here with `ChainRefused` and is never sent."""
        fn = getattr(self.contract.functions, function)(*args)
        params = {"from": account.address, "value": value, "nonce": nonce}
        gas = gas_limit(await _guard(fn.estimate_gas(params)))
        tx = await _guard(fn.build_transaction({**params, "chainId": self.chain_id, "gas": gas}))
        signed = account.sign_transaction(tx)
        return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

    async def send_raw(self, raw: bytes) -> None:
        await _guard(self.w3.eth.send_raw_transaction(raw))

    async def revert_reason(self, tx_hash: str, receipt: dict[str, Any]) -> str:
        """Why a mined transaction reverted: `out of gas`, or the contract's reason
        from replaying the call on the state after its block (which holds whatever
        an earlier transaction of the block did, and nothing of this one), else
        `reverted`."""
        tx = await _guard(self.w3.eth.get_transaction(tx_hash))
        if int(receipt["gasUsed"]) >= int(tx["gas"]):
            return f"out of gas (all {int(tx['gas'])} used)"
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"]}
        try:
            await _guard(self.w3.eth.call(call, int(receipt["blockNumber"])))
        except ChainRefused as exc:
            return str(exc)
        return "reverted"

    async def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The receipt, or None while the transaction is not mined (or unknown)."""
        try:
            receipt = await self.w3.eth.get_transaction_receipt(tx_hash)
        except Exception as exc:
            if type(exc).__name__ == "TransactionNotFound":
                return None
            raise _unavailable(exc) from exc
        return dict(receipt)

    async def events(
        self, name: str, from_block: int = 0, to_block: int | None = None, **filters: Any
    ) -> list[Any]:
        event = getattr(self.contract.events, name)
        end = "latest" if to_block is None else to_block
        logs = await _guard(
            event.get_logs(from_block=from_block, to_block=end, argument_filters=filters or None)
        )
        return list(logs)


DEPLOYER_FUNDS = 10**18
"""Wei a one-off deployer key gets for the deployment's gas (the local chains deploy
from a fresh key each time, so that every deployment has an address of its own)."""


async def deploy(
    w3: AsyncWeb3,
    sender: Any,
    params: ChainParams,
) -> str:
    """Deploy the committed artifact from `sender` (an unlocked address of the node, or
    an eth-account account); the contract's address."""
    artifact = load()
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    build = factory.constructor(*params.constructor())
    if isinstance(sender, str):
        tx_hash = await _guard(build.transact({"from": sender}))
    else:
        tx = await _guard(
            build.build_transaction(
                {
                    "from": sender.address,
                    "nonce": await _guard(w3.eth.get_transaction_count(sender.address)),
                    "chainId": await _guard(w3.eth.chain_id),
                }
            )
        )
        tx_hash = await _guard(
            w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
        )
    receipt = await _guard(w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60))
    if receipt["status"] != 1:
        raise ChainError("the contract's deployment failed")
    return str(receipt["contractAddress"])
