#pragma version ~=0.4.3
"""
@title Registry: members, stake with an unbonding delay, reputation in fixed point
@notice A member is a node's account. It registers with its endpoint URL, the model
        it serves and a capability attestation (a hash; the proof-of-capability
        rules fill it), locking at least `min_stake` wei. Stake leaves only through
        `request_unstake` and, after `unbonding_delay` seconds, `withdraw`; stake
        that is unbonding can still be slashed, so a node cannot run from a slash.
        Reputation is an int256 with 18 decimals (`SCALE`); only the settlement
        module of the deployed contract changes it or slashes, with a quorum's
        signatures.
"""

SCALE: constant(int256) = 10**18
MAX_MEMBERS: constant(uint256) = 1024
MAX_PAGE: constant(uint256) = 100

struct Member:
    node: address
    endpoint: String[256]
    model: String[128]
    attestation: bytes32
    stake: uint256
    unbonding: uint256
    release: uint256
    reputation: int256
    since: uint256

event Registered:
    node: indexed(address)
    endpoint: String[256]
    model: String[128]
    attestation: bytes32
    stake: uint256

event Updated:
    node: indexed(address)
    endpoint: String[256]
    attestation: bytes32

event Staked:
    node: indexed(address)
    amount: uint256
    stake: uint256

event UnstakeRequested:
    node: indexed(address)
    amount: uint256
    release: uint256

event Withdrawn:
    node: indexed(address)
    amount: uint256

min_stake: public(uint256)
unbonding_delay: public(uint256)
initial_reputation: public(int256)
member: public(HashMap[address, Member])
node_list: public(DynArray[address, MAX_MEMBERS])


@deploy
def __init__(min_stake: uint256, unbonding_delay: uint256, initial_reputation: int256):
    self.min_stake = min_stake
    self.unbonding_delay = unbonding_delay
    self.initial_reputation = initial_reputation


@internal
@view
def _registered(node: address) -> bool:
    return self.member[node].since != 0


@internal
@view
def _active(node: address) -> bool:
    """Registered with at least the minimum stake bonded."""
    return self.member[node].since != 0 and self.member[node].stake >= self.min_stake


@external
@payable
def register(endpoint: String[256], model: String[128], attestation: bytes32):
    assert not self._registered(msg.sender), "already registered"
    assert msg.value >= self.min_stake, "stake below the minimum"
    assert len(endpoint) > 0 and len(model) > 0, "endpoint and model are required"
    self.member[msg.sender] = Member(
        node=msg.sender,
        endpoint=endpoint,
        model=model,
        attestation=attestation,
        stake=msg.value,
        unbonding=0,
        release=0,
        reputation=self.initial_reputation,
        since=block.timestamp,
    )
    self.node_list.append(msg.sender)
    log Registered(node=msg.sender, endpoint=endpoint, model=model, attestation=attestation, stake=msg.value)


@external
def update(endpoint: String[256], attestation: bytes32):
    """@notice A member's new endpoint or attestation (its model is fixed)."""
    assert self._registered(msg.sender), "not registered"
    assert len(endpoint) > 0, "endpoint is required"
    self.member[msg.sender].endpoint = endpoint
    self.member[msg.sender].attestation = attestation
    log Updated(node=msg.sender, endpoint=endpoint, attestation=attestation)


@external
@payable
def stake():
    assert self._registered(msg.sender), "not registered"
    assert msg.value > 0, "nothing to stake"
    self.member[msg.sender].stake += msg.value
    log Staked(node=msg.sender, amount=msg.value, stake=self.member[msg.sender].stake)


@external
def request_unstake(amount: uint256):
    """@notice Start unbonding `amount`; it can be withdrawn `unbonding_delay` seconds
               later (a new request restarts the delay for everything unbonding)."""
    assert self._registered(msg.sender), "not registered"
    assert amount > 0 and amount <= self.member[msg.sender].stake, "amount exceeds the stake"
    self.member[msg.sender].stake -= amount
    self.member[msg.sender].unbonding += amount
    self.member[msg.sender].release = block.timestamp + self.unbonding_delay
    log UnstakeRequested(node=msg.sender, amount=amount, release=self.member[msg.sender].release)


@external
@nonreentrant
def withdraw():
    amount: uint256 = self.member[msg.sender].unbonding
    assert amount > 0, "nothing unbonding"
    assert block.timestamp >= self.member[msg.sender].release, "still unbonding"
    self.member[msg.sender].unbonding = 0
    send(msg.sender, amount)
    log Withdrawn(node=msg.sender, amount=amount)


@external
@view
def count() -> uint256:
    return len(self.node_list)


@external
@view
def members(offset: uint256, limit: uint256) -> DynArray[Member, MAX_PAGE]:
    """@notice Up to `limit` (at most 100) members from position `offset`, for discovery."""
    out: DynArray[Member, MAX_PAGE] = []
    n: uint256 = len(self.node_list)
    for i: uint256 in range(MAX_PAGE):
        if i >= limit or offset + i >= n:
            break
        out.append(self.member[self.node_list[offset + i]])
    return out


@external
@view
def active(node: address) -> bool:
    return self._active(node)


@internal
def _change_reputation(node: address, delta: int256):
    self.member[node].reputation += delta


@internal
def _slash(node: address, bps: uint256) -> uint256:
    """Take `bps`/10000 of the node's bonded and unbonding stake (burnt: it stays in the
    contract, owned by nobody). Returns the amount."""
    bonded: uint256 = self.member[node].stake * bps // 10000
    unbonding: uint256 = self.member[node].unbonding * bps // 10000
    self.member[node].stake -= bonded
    self.member[node].unbonding -= unbonding
    return bonded + unbonding
