#pragma version ~=0.4.3
"""
@title Registry: members, stake with an unbonding delay, reputation in fixed point
@notice A member is a node's account. It registers with its endpoint URL and the
        model it serves, locking at least `min_stake` wei. Stake leaves only through
        `request_unstake` and, after `unbonding_delay` seconds, `withdraw`; stake
        that is unbonding can still be slashed, so a node cannot run from a slash.
        Reputation is an int256 with 18 decimals (`SCALE`); only the settlement
        module of the deployed contract changes it or slashes, with a quorum's
        signatures.

        Capability: a member takes part in rounds only while `capable`: staked,
        admitted (`capable_since`, set by the deployed contract's `attest` from a
        quorum of attestations, or at registration for one of the first
        `genesis_seats` members, the founders who have nobody to calibrate them),
        and seen within `inactivity_limit` seconds (`last_seen`: its last admission
        or settled batch it took part in). A change of model clears the admission,
        so the member is tested again; so does a long silence, by the limit.
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
    capable_since: uint256
    last_seen: uint256

event Registered:
    node: indexed(address)
    endpoint: String[256]
    model: String[128]
    stake: uint256

event Updated:
    node: indexed(address)
    endpoint: String[256]
    model: String[128]

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
genesis_seats: public(uint256)
inactivity_limit: public(uint256)
member: public(HashMap[address, Member])
node_list: public(DynArray[address, MAX_MEMBERS])


@deploy
def __init__(
    min_stake: uint256,
    unbonding_delay: uint256,
    initial_reputation: int256,
    genesis_seats: uint256,
    inactivity_limit: uint256,
):
    self.min_stake = min_stake
    self.unbonding_delay = unbonding_delay
    self.initial_reputation = initial_reputation
    self.genesis_seats = genesis_seats
    self.inactivity_limit = inactivity_limit


@internal
@view
def _registered(node: address) -> bool:
    return self.member[node].since != 0


@internal
@view
def _active(node: address) -> bool:
    """Registered with at least the minimum stake bonded."""
    return self.member[node].since != 0 and self.member[node].stake >= self.min_stake


@internal
@view
def _capable(node: address) -> bool:
    """Active, admitted, and seen within the inactivity limit."""
    m: Member = self.member[node]
    if not self._active(node) or m.capable_since == 0:
        return False
    return block.timestamp <= max(m.capable_since, m.last_seen) + self.inactivity_limit


@internal
def _admit(node: address):
    self.member[node].capable_since = block.timestamp
    self.member[node].last_seen = block.timestamp


@internal
def _seen(node: address):
    self.member[node].last_seen = block.timestamp


@external
@payable
def register(endpoint: String[256], model: String[128]):
    """@notice Join with a stake; one of the first `genesis_seats` members is admitted at
               once, every later one through `attest`."""
    assert not self._registered(msg.sender), "already registered"
    assert msg.value >= self.min_stake, "stake below the minimum"
    assert len(endpoint) > 0 and len(model) > 0, "endpoint and model are required"
    self.member[msg.sender] = Member(
        node=msg.sender,
        endpoint=endpoint,
        model=model,
        attestation=empty(bytes32),
        stake=msg.value,
        unbonding=0,
        release=0,
        reputation=self.initial_reputation,
        since=block.timestamp,
        capable_since=0,
        last_seen=0,
    )
    self.node_list.append(msg.sender)
    if self.genesis_seats > 0:
        self.genesis_seats -= 1
        self._admit(msg.sender)
    log Registered(node=msg.sender, endpoint=endpoint, model=model, stake=msg.value)


@external
def update(endpoint: String[256], model: String[128]):
    """@notice A member's new endpoint or model; a new model must be attested anew."""
    assert self._registered(msg.sender), "not registered"
    assert len(endpoint) > 0 and len(model) > 0, "endpoint and model are required"
    if keccak256(model) != keccak256(self.member[msg.sender].model):
        self.member[msg.sender].model = model
        self.member[msg.sender].capable_since = 0
        self.member[msg.sender].attestation = empty(bytes32)
    self.member[msg.sender].endpoint = endpoint
    log Updated(node=msg.sender, endpoint=endpoint, model=model)


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


@external
@view
def capable(node: address) -> bool:
    """@notice May take part in rounds: staked, admitted, not idle past the limit."""
    return self._capable(node)


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
